/**
 * The admin API's shared secret. Given inline (`adminToken`) or as a file (`adminTokenFile`,
 * read once at start so a secret need not sit in a config file). Compared in constant time:
 * both sides are hashed to SHA-256 first, so neither the content nor the length of the token
 * leaks through the time a refusal takes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FedkitError } from '@fedkit/protocol';

/** Shorter tokens are refused at start: they could be guessed over the network. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

export class AdminToken {
  readonly #digest: Buffer;

  private constructor(token: string) {
    this.#digest = sha256(token);
  }

  /**
   * Builds the check from the server options; null when neither option is set. Throws
   * `config-invalid` for both options at once, an unreadable file or a short token.
   *
   * @example AdminToken.resolve({ adminTokenFile: '/run/secrets/fedkit-admin' })
   */
  static resolve(options: { adminToken?: string | undefined; adminTokenFile?: string | undefined }): AdminToken | null {
    const { adminToken, adminTokenFile } = options;
    if (adminToken !== undefined && adminTokenFile !== undefined) {
      throw new FedkitError('config-invalid', 'server options: give "adminToken" or "adminTokenFile", not both');
    }
    let token: string;
    let field: string;
    if (adminToken !== undefined) {
      if (typeof adminToken !== 'string') throw new TypeError(`server options: field "adminToken" must be a string, got ${typeof adminToken}`);
      token = adminToken;
      field = 'adminToken';
    } else if (adminTokenFile !== undefined) {
      try {
        token = readFileSync(adminTokenFile, 'utf8').trim();
      } catch (error) {
        throw new FedkitError('config-invalid', `server options: field "adminTokenFile": cannot read ${adminTokenFile}: ${(error as Error).message}`);
      }
      field = `adminTokenFile (${adminTokenFile})`;
    } else {
      return null;
    }
    if (token.length < MIN_ADMIN_TOKEN_LENGTH) {
      throw new FedkitError('config-invalid', `server options: field "${field}": the admin token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters, got ${token.length}`);
    }
    return new AdminToken(token);
  }

  /** True when `candidate` is the token; constant time in both inputs. */
  matches(candidate: string): boolean {
    return timingSafeEqual(this.#digest, sha256(candidate));
  }

  /** Never serialize the secret (e.g. when options are logged). */
  toJSON(): string {
    return '[admin token]';
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
