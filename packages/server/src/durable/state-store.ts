/**
 * The server's data dir on disk: one snapshot per completed round, made of a model file
 * (raw little-endian float32) and a state file (JSON), committed by a versioned manifest
 * that names both with their sizes and SHA-256. The manifest's atomic rename is the commit
 * point: a crash before it leaves the previous snapshot in force, a crash after it the new
 * one. Files of older snapshots are deleted only after the new manifest is durable.
 *
 *   <dir>/manifest.json          { format, formatVersion, round, files: { model, state }, sha256 }
 *   <dir>/model-000012.bin       the global weights after round 12
 *   <dir>/state-000012.json      round, model version, strategy, accountant, clients, history
 *
 * Loading never resets anything silently: a manifest from a newer format version is
 * `state-version-unsupported`; a truncated, edited or missing file is `state-corrupt`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FedkitError } from '@fedkit/protocol';
import { fsyncDirSync, writeFileAtomicSync } from './atomic-file.js';

export const STATE_FORMAT = 'fedkit-server-state';
/** Bump when the layout changes; a server refuses a data dir written by a newer version. */
export const STATE_FORMAT_VERSION = 1;
const MANIFEST = 'manifest.json';

export interface StoredSnapshot {
  /** The last completed round. */
  round: number;
  /** The global weights, raw float32 LE bytes. */
  model: Uint8Array;
  /** Everything else, JSON-safe. */
  state: unknown;
}

interface FileEntry {
  name: string;
  bytes: number;
  sha256: string;
}

interface ManifestBody {
  format: typeof STATE_FORMAT;
  formatVersion: number;
  round: number;
  savedAt: string;
  files: { model: FileEntry; state: FileEntry };
}

export class StateStore {
  constructor(readonly dir: string) {}

  /** The committed snapshot, or null for a fresh data dir. Throws `state-corrupt` / `state-version-unsupported`. */
  load(): StoredSnapshot | null {
    const manifestPath = join(this.dir, MANIFEST);
    if (!existsSync(manifestPath)) return null;
    const manifest = this.readManifest(manifestPath);
    const model = this.readChecked(manifest.files.model);
    const stateBytes = this.readChecked(manifest.files.state);
    let state: unknown;
    try {
      state = JSON.parse(Buffer.from(stateBytes).toString('utf8'));
    } catch (error) {
      throw this.corrupt(`${manifest.files.state.name} is not valid JSON: ${(error as Error).message}`);
    }
    return { round: manifest.round, model, state };
  }

  /** Commits `snapshot` durably; the previous snapshot stays in force until the manifest is renamed. */
  save(snapshot: StoredSnapshot): void {
    mkdirSync(this.dir, { recursive: true });
    const tag = String(snapshot.round).padStart(6, '0');
    const stateBytes = Buffer.from(JSON.stringify(snapshot.state), 'utf8');
    const model = this.writeEntry(`model-${tag}.bin`, snapshot.model);
    const state = this.writeEntry(`state-${tag}.json`, stateBytes);
    const body: ManifestBody = {
      format: STATE_FORMAT,
      formatVersion: STATE_FORMAT_VERSION,
      round: snapshot.round,
      savedAt: new Date().toISOString(),
      files: { model, state },
    };
    writeFileAtomicSync(join(this.dir, MANIFEST), `${JSON.stringify({ ...body, sha256: sha256Hex(canonicalBody(body)) }, null, 1)}\n`);
    this.removeStale(new Set([model.name, state.name]));
  }

  private writeEntry(name: string, bytes: Uint8Array): FileEntry {
    writeFileAtomicSync(join(this.dir, name), bytes);
    return { name, bytes: bytes.byteLength, sha256: sha256Hex(bytes) };
  }

  private removeStale(keep: ReadonlySet<string>): void {
    let removed = false;
    for (const name of readdirSync(this.dir)) {
      if (name === MANIFEST || keep.has(name) || !/^(model|state)-\d+\.(bin|json)$|^\..*\.tmp$/.test(name)) continue;
      rmSync(join(this.dir, name), { force: true });
      removed = true;
    }
    if (removed) fsyncDirSync(this.dir);
  }

  private readManifest(path: string): ManifestBody {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw this.corrupt(`${MANIFEST} cannot be read: ${(error as Error).message}`);
    }
    const m = parsed as Partial<ManifestBody> & { sha256?: unknown };
    if (typeof m !== 'object' || m === null || m.format !== STATE_FORMAT) throw this.corrupt(`${MANIFEST} is not a ${STATE_FORMAT} manifest`);
    if (typeof m.formatVersion !== 'number' || !Number.isInteger(m.formatVersion) || m.formatVersion < 1) {
      throw this.corrupt(`${MANIFEST} has an invalid formatVersion ${JSON.stringify(m.formatVersion)}`);
    }
    if (m.formatVersion > STATE_FORMAT_VERSION) {
      throw new FedkitError(
        'state-version-unsupported',
        `data dir ${this.dir} was written by a newer Fedkit (state format ${m.formatVersion}; this server reads up to ${STATE_FORMAT_VERSION}); upgrade the server or point it at another data dir`,
      );
    }
    const { sha256, ...rest } = m;
    const body = rest as ManifestBody;
    if (typeof sha256 !== 'string' || sha256 !== sha256Hex(canonicalBody(body))) throw this.corrupt(`${MANIFEST} checksum does not match its contents`);
    if (!Number.isSafeInteger(body.round) || body.round < 1 || !isEntry(body.files?.model) || !isEntry(body.files?.state)) {
      throw this.corrupt(`${MANIFEST} lacks round or file entries`);
    }
    return body;
  }

  private readChecked(entry: FileEntry): Uint8Array {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(this.dir, entry.name));
    } catch (error) {
      throw this.corrupt(`${entry.name} cannot be read: ${(error as Error).message}`);
    }
    if (bytes.byteLength !== entry.bytes) throw this.corrupt(`${entry.name} has ${bytes.byteLength} bytes, the manifest says ${entry.bytes} (truncated?)`);
    if (sha256Hex(bytes) !== entry.sha256) throw this.corrupt(`${entry.name} does not match its SHA-256 in the manifest`);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private corrupt(detail: string): FedkitError {
    return new FedkitError('state-corrupt', `data dir ${this.dir} is corrupted: ${detail}; restore it from a backup or move it away to start a new federation`);
  }
}

/** Hex SHA-256 of bytes. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function canonicalBody(body: ManifestBody): string {
  const { format, formatVersion, round, savedAt, files } = body;
  return JSON.stringify({ format, formatVersion, round, savedAt, files });
}

function isEntry(value: unknown): value is FileEntry {
  const e = value as Partial<FileEntry> | undefined;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.name === 'string' &&
    /^(model|state)-\d+\.(bin|json)$/.test(e.name) &&
    Number.isSafeInteger(e.bytes) &&
    typeof e.sha256 === 'string'
  );
}
