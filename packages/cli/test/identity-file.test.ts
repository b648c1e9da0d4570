import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateIdentity } from '../src/identity-file.js';

describe('identity files', () => {
  it('creates an owner-only identity once and reads the same keys back', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'fedkit-id-')), 'keys', 'id.json');
    const first = await loadOrCreateIdentity(path);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateIdentity(path);
    expect(second.created).toBe(false);
    expect(Buffer.from(second.identity.publicKey)).toEqual(Buffer.from(first.identity.publicKey));
    expect(Buffer.from(second.identity.secretKey)).toEqual(Buffer.from(first.identity.secretKey));
  });

  it.each([
    ['{oops', 'not valid JSON'],
    [JSON.stringify({ kind: 'other', version: 1 }), 'field "kind"'],
    [JSON.stringify({ kind: 'fedkit-identity', version: 1, publicKey: 'AAAA', secretKey: '' }), 'field "publicKey" must be 32 bytes'],
    [
      JSON.stringify({ kind: 'fedkit-identity', version: 1, publicKey: Buffer.alloc(32, 1).toString('base64'), secretKey: Buffer.alloc(64, 2).toString('base64') }),
      'does not belong to "publicKey"',
    ],
  ])('refuses a malformed file (%s)', async (content, message) => {
    const path = join(mkdtempSync(join(tmpdir(), 'fedkit-id-')), 'id.json');
    writeFileSync(path, content);
    await expect(loadOrCreateIdentity(path)).rejects.toThrow(message);
  });
});
