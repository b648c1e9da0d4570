/**
 * The server secret enrollment tokens are signed with: 32 random bytes as 64 hex characters
 * in a file readable by the operator only (mode 0600). `fedkit token create` and the server
 * read the same file; the default one in the data dir is created on first use, an explicitly
 * named one must already exist (a typo must not silently mint a new secret).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FedkitError } from '@fedkit/protocol';
import { writeFileAtomicSync } from '../durable/atomic-file.js';

export const SECRET_FILE_NAME = 'auth-secret.key';

/** The default secret file of a data dir. */
export function defaultSecretFile(dataDir: string): string {
  return join(dataDir, SECRET_FILE_NAME);
}

/** Reads the secret; with `create`, writes a fresh one first when the file is missing. */
export function loadServerSecret(path: string, options: { create: boolean }): Uint8Array {
  if (!existsSync(path)) {
    if (!options.create) throw new FedkitError('config-invalid', `auth secret file ${path} does not exist (create one with fedkit token create --secret-file, or use --data-dir)`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomicSync(path, `${randomBytes(32).toString('hex')}\n`);
  }
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64,}$/i.test(text)) throw new FedkitError('config-invalid', `auth secret file ${path} must hold at least 64 hex characters`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}
