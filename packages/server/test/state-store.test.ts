/**
 * The data dir's snapshot store: round trips, commits only at the manifest, and refuses
 * (never resets) a newer format, a bad checksum, a truncated or missing file.
 */
import { mkdtempSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateStore, STATE_FORMAT_VERSION } from '../src/durable/state-store.js';
import { writeFileAtomicSync } from '../src/durable/atomic-file.js';

const fresh = (): string => mkdtempSync(join(tmpdir(), 'fedkit-state-'));
const snap = (round: number) => ({ round, model: new Uint8Array([round, 1, 2, 3, 4, 5, 6, 7]), state: { round, note: 'x' } });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? 'uncoded';
  }
  return 'none';
}

describe('StateStore', () => {
  it('loads null from a fresh dir and the last committed snapshot after saves', () => {
    const dir = fresh();
    const store = new StateStore(dir);
    expect(store.load()).toBeNull();
    store.save(snap(1));
    store.save(snap(2));
    const loaded = store.load()!;
    expect(loaded.round).toBe(2);
    expect([...loaded.model]).toEqual([2, 1, 2, 3, 4, 5, 6, 7]);
    expect(loaded.state).toEqual({ round: 2, note: 'x' });
    // Older generations are removed once the new manifest is durable.
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'model-000002.bin', 'state-000002.json']);
  });

  it('ignores files of a snapshot whose manifest was never written (crash before the commit)', () => {
    const dir = fresh();
    const store = new StateStore(dir);
    store.save(snap(1));
    writeFileAtomicSync(join(dir, 'model-000002.bin'), new Uint8Array(8));
    writeFileSync(join(dir, '.manifest.json.123.tmp'), '{"half":');
    expect(store.load()!.round).toBe(1);
    store.save(snap(2));
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a data dir written by a newer format version', () => {
    const dir = fresh();
    new StateStore(dir).save(snap(1));
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, formatVersion: STATE_FORMAT_VERSION + 1 }));
    expect(codeOf(() => new StateStore(dir).load())).toBe('state-version-unsupported');
    expect(() => new StateStore(dir).load()).toThrow(/newer Fedkit \(state format 2; this server reads up to 1\)/);
  });

  it.each([
    ['a flipped model byte', (dir: string) => writeFileSync(join(dir, 'model-000001.bin'), new Uint8Array([9, 1, 2, 3, 4, 5, 6, 7])), /SHA-256/],
    ['a truncated model file', (dir: string) => truncateSync(join(dir, 'model-000001.bin'), 4), /truncated/],
    ['a missing state file', (dir: string) => writeFileSync(join(dir, 'state-000001.json'), '') , /bytes/],
    ['a truncated manifest', (dir: string) => truncateSync(join(dir, 'manifest.json'), 20), /manifest.json cannot be read/],
    ['an edited manifest', (dir: string) => {
      const m = readFileSync(join(dir, 'manifest.json'), 'utf8');
      writeFileSync(join(dir, 'manifest.json'), m.replace('"round": 1', '"round": 7'));
    }, /checksum/],
    ['a foreign manifest', (dir: string) => writeFileSync(join(dir, 'manifest.json'), '{"format":"other"}'), /not a fedkit-server-state manifest/],
  ])('refuses %s as state-corrupt', (_what, damage, message) => {
    const dir = fresh();
    new StateStore(dir).save(snap(1));
    damage(dir);
    expect(codeOf(() => new StateStore(dir).load())).toBe('state-corrupt');
    expect(() => new StateStore(dir).load()).toThrow(message);
  });
});
