/**
 * Crash-safe file replacement: a reader sees the old file or the new one, never a torn mix,
 * even after `kill -9` or a power cut. The bytes go to a temp file in the same directory,
 * are fsynced, renamed over the target (atomic on POSIX), and the directory is fsynced so
 * that the rename itself is durable. Synchronous on purpose: the server persists a round
 * before anything can observe the new model (see durable-state.ts).
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Writes `data` to `path` atomically and durably. */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(temp, 'w', 0o600);
  try {
    let offset = 0;
    while (offset < bytes.byteLength) offset += writeSync(fd, bytes, offset, bytes.byteLength - offset);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
  fsyncDirSync(dir);
}

/** Makes a directory's entries (creations, renames, deletions) durable. */
export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
