/**
 * Decides whether a hello may join when `auth` is configured: it must carry a valid
 * enrollment token (enrollment-token.ts) or prove possession of a pre-registered identity
 * key (an Ed25519 signature of `fedkit-hello-v1|<session id>|<client id>`, so a key seen on
 * the wire cannot be replayed on another connection). Either way, a client id stays bound
 * to the identity key it first joined with (KnownClients, persisted in the data dir).
 * Refusals are coded (`auth-missing`, `auth-invalid`, `auth-expired`,
 * `auth-wrong-federation`, `auth-key-unknown`); the connection then drops the socket.
 */
import { createPublicKey, verify } from 'node:crypto';
import { FedkitError, helloSignatureMessage } from '@fedkit/protocol';
import type { KnownClients } from '../durable/known-clients.js';
import type { AuthOptions } from '../security-config.js';
import { verifyEnrollmentToken, type TokenClaims } from './enrollment-token.js';

export interface HelloCredentials {
  clientId: string;
  sessionId: string;
  identityPublicKey?: Uint8Array;
  authToken?: string;
  authSignature?: Uint8Array;
}

export type AuthResult = { method: 'token'; claims: TokenClaims } | { method: 'public-key' };

export class Authenticator {
  private readonly keys: ReadonlySet<string>;

  constructor(
    private readonly options: AuthOptions,
    private readonly secret: Uint8Array | null,
    private readonly known: KnownClients,
    private readonly now: () => number = Date.now,
  ) {
    const keys = new Set<string>();
    for (const [i, text] of options.publicKeys.entries()) {
      const bytes = Buffer.from(text, 'base64');
      if (bytes.byteLength !== 32 || bytes.toString('base64') !== text) {
        throw new FedkitError('config-invalid', `server options: field "auth.publicKeys.${i}": must be base64 of a 32-byte Ed25519 public key`);
      }
      keys.add(text);
    }
    this.keys = keys;
    if (options.tokens && secret === null) throw new FedkitError('config-invalid', 'server options: field "auth": token authentication needs the server secret');
  }

  /** Returns how the client authenticated, or throws the coded refusal. */
  check(hello: HelloCredentials): AuthResult {
    const result = this.authenticate(hello);
    this.checkPinnedKey(hello);
    return result;
  }

  private authenticate(hello: HelloCredentials): AuthResult {
    if (hello.authToken !== undefined && this.options.tokens) {
      const claims = verifyEnrollmentToken(hello.authToken, {
        secret: this.secret!,
        federationId: this.options.federationId,
        clockSkewMs: this.options.clockSkewMs,
        nowMs: this.now(),
      });
      return { method: 'token', claims };
    }
    if (hello.authSignature !== undefined && this.keys.size > 0) {
      const key = hello.identityPublicKey;
      if (key === undefined) throw new FedkitError('auth-invalid', 'hello: field "authSignature": send identityPublicKey with it');
      if (!this.keys.has(Buffer.from(key).toString('base64'))) {
        throw new FedkitError('auth-key-unknown', `hello: field "identityPublicKey": client ${hello.clientId}'s key is not registered with this federation`);
      }
      if (!verifyEd25519(key, helloSignatureMessage(hello.sessionId, hello.clientId), hello.authSignature)) {
        throw new FedkitError('auth-invalid', 'hello: field "authSignature": the signature does not verify for this session and client id');
      }
      return { method: 'public-key' };
    }
    const ways = [this.options.tokens ? 'an enrollment token (authToken)' : null, this.keys.size > 0 ? 'a registered identity key (authSignature)' : null].filter((w) => w !== null);
    throw new FedkitError('auth-missing', `this federation requires ${ways.join(' or ')} to join`);
  }

  private checkPinnedKey(hello: HelloCredentials): void {
    const pinned = this.known.get(hello.clientId)?.identityPublicKey ?? null;
    if (pinned === null) return;
    const given = hello.identityPublicKey === undefined ? null : Buffer.from(hello.identityPublicKey).toString('base64');
    if (given !== pinned) {
      throw new FedkitError('auth-invalid', `client id ${hello.clientId} is bound to another identity key; a client must keep its identity (persist it) to rejoin`);
    }
  }
}

function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}
