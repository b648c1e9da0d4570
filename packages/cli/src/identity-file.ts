/**
 * A client's long-term Ed25519 identity on disk, so that `fedkit client --identity FILE`
 * keeps one identity across restarts (servers that encrypt updates verify every update
 * against it). The file is JSON with base64 keys, created with owner-only permissions.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createIdentityKeyPair, type IdentityKeyPair } from '@fedkit/privacy';
import { FedkitError, cryptoRandomSource } from '@fedkit/protocol';

interface IdentityFile {
  kind: 'fedkit-identity';
  version: 1;
  publicKey: string;
  secretKey: string;
}

/** Reads the identity at `path`, or creates one there when the file does not exist. */
export async function loadOrCreateIdentity(path: string): Promise<{ identity: IdentityKeyPair; created: boolean }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new FedkitError('config-invalid', `cannot read identity file ${path}: ${(error as Error).message}`);
    }
    const identity = createIdentityKeyPair(cryptoRandomSource());
    const file: IdentityFile = {
      kind: 'fedkit-identity',
      version: 1,
      publicKey: Buffer.from(identity.publicKey).toString('base64'),
      secretKey: Buffer.from(identity.secretKey).toString('base64'),
    };
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(path, 0o600);
    return { identity, created: true };
  }
  return { identity: parseIdentity(text, path), created: false };
}

function parseIdentity(text: string, path: string): IdentityKeyPair {
  const bad = (why: string): never => {
    throw new FedkitError('config-invalid', `identity file ${path}: ${why}`);
  };
  let file: Partial<IdentityFile>;
  try {
    file = JSON.parse(text) as Partial<IdentityFile>;
  } catch {
    return bad('not valid JSON');
  }
  if (file.kind !== 'fedkit-identity' || file.version !== 1) bad('field "kind" must be "fedkit-identity" with "version" 1');
  const publicKey = Buffer.from(String(file.publicKey ?? ''), 'base64');
  const secretKey = Buffer.from(String(file.secretKey ?? ''), 'base64');
  if (publicKey.byteLength !== 32) bad('field "publicKey" must be 32 bytes in base64');
  if (secretKey.byteLength !== 64) bad('field "secretKey" must be 64 bytes in base64');
  // An Ed25519 secret key in NaCl's form ends with its public key.
  if (!secretKey.subarray(32).equals(publicKey)) bad('"secretKey" does not belong to "publicKey"');
  return { publicKey: new Uint8Array(publicKey), secretKey: new Uint8Array(secretKey) };
}
