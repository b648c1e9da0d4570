/**
 * Enrollment tokens: what an operator hands a client so it may join one federation for a
 * while. `fkt1.<payload>.<mac>`, both base64url; the payload is JSON
 * `{ fed, iat, exp, jti }` (federation id, issued-at and expiry in Unix seconds, a random
 * token id) and the MAC is HMAC-SHA256 of the payload text under the server secret. Opaque
 * to clients: they present it in `hello.authToken` and never parse it.
 *
 * Verification allows a clock skew both ways (a token "issued in the future" by a fast
 * clock, or one just expired on a slow one) and compares MACs in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { FedkitError } from '@fedkit/protocol';

export const TOKEN_PREFIX = 'fkt1';

export interface TokenClaims {
  /** Federation id the token is scoped to. */
  federationId: string;
  /** Issued at, Unix ms (stored with second precision). */
  issuedAtMs: number;
  /** Expires at, Unix ms (stored with second precision). */
  expiresAtMs: number;
  /** Random token id, for logs and revocation lists. */
  tokenId: string;
}

export interface CreateTokenOptions {
  secret: Uint8Array;
  federationId: string;
  /** Lifetime from `nowMs`, > 0. */
  ttlMs: number;
  /** @default Date.now() */
  nowMs?: number;
  /** @default 16 random bytes, hex */
  tokenId?: string;
}

/**
 * Issues a token.
 *
 * @example createEnrollmentToken({ secret, federationId: 'mnist-demo', ttlMs: 24 * 3600_000 })
 */
export function createEnrollmentToken(options: CreateTokenOptions): { token: string; claims: TokenClaims } {
  if (!(Number.isFinite(options.ttlMs) && options.ttlMs > 0)) throw new RangeError(`ttlMs must be > 0, got ${options.ttlMs}`);
  assertSecret(options.secret);
  const now = options.nowMs ?? Date.now();
  const iat = Math.floor(now / 1000);
  const exp = Math.ceil((now + options.ttlMs) / 1000);
  const jti = options.tokenId ?? randomBytes(16).toString('hex');
  const payload = Buffer.from(JSON.stringify({ fed: options.federationId, iat, exp, jti }), 'utf8').toString('base64url');
  const mac = hmac(options.secret, payload).toString('base64url');
  return { token: `${TOKEN_PREFIX}.${payload}.${mac}`, claims: { federationId: options.federationId, issuedAtMs: iat * 1000, expiresAtMs: exp * 1000, tokenId: jti } };
}

export interface VerifyTokenOptions {
  secret: Uint8Array;
  federationId: string;
  clockSkewMs: number;
  /** @default Date.now() */
  nowMs?: number;
}

/**
 * Checks a token; returns its claims or throws `auth-invalid` (malformed or forged),
 * `auth-wrong-federation` or `auth-expired`.
 */
export function verifyEnrollmentToken(token: string, options: VerifyTokenOptions): TokenClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || parts[1]!.length === 0 || parts[2]!.length === 0) {
    throw new FedkitError('auth-invalid', `hello: field "authToken": not a Fedkit enrollment token (expected ${TOKEN_PREFIX}.<payload>.<mac>)`);
  }
  const [, payload, macText] = parts as [string, string, string];
  const expected = hmac(options.secret, payload);
  const given = Buffer.from(macText, 'base64url');
  if (given.byteLength !== expected.byteLength || !timingSafeEqual(given, expected)) {
    throw new FedkitError('auth-invalid', 'hello: field "authToken": the token signature does not verify (forged, or issued by another server)');
  }
  let claims: { fed?: unknown; iat?: unknown; exp?: unknown; jti?: unknown };
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    throw new FedkitError('auth-invalid', 'hello: field "authToken": the token payload is not JSON');
  }
  const { fed, iat, exp, jti } = claims;
  if (typeof fed !== 'string' || !Number.isSafeInteger(iat) || !Number.isSafeInteger(exp) || typeof jti !== 'string') {
    throw new FedkitError('auth-invalid', 'hello: field "authToken": the token lacks fed, iat, exp or jti');
  }
  const result: TokenClaims = { federationId: fed, issuedAtMs: (iat as number) * 1000, expiresAtMs: (exp as number) * 1000, tokenId: jti };
  if (fed !== options.federationId) {
    throw new FedkitError('auth-wrong-federation', `hello: field "authToken": the token is for federation "${fed}", this server runs "${options.federationId}"`);
  }
  const now = options.nowMs ?? Date.now();
  if (result.issuedAtMs > now + options.clockSkewMs) {
    throw new FedkitError('auth-invalid', `hello: field "authToken": the token is issued ${Math.round((result.issuedAtMs - now) / 1000)} s in the future, beyond the ${options.clockSkewMs} ms clock-skew allowance`);
  }
  if (result.expiresAtMs + options.clockSkewMs <= now) {
    throw new FedkitError('auth-expired', `hello: field "authToken": the token expired at ${new Date(result.expiresAtMs).toISOString()} (token id ${jti}); ask the operator for a new one`);
  }
  return result;
}

function hmac(secret: Uint8Array, text: string): Buffer {
  return createHmac('sha256', secret).update(text, 'utf8').digest();
}

function assertSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.byteLength < 32) throw new RangeError('the server secret must be at least 32 bytes');
}

/** Parses a duration like `90s`, `15m`, `24h`, `7d` into ms. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null) throw new FedkitError('config-invalid', `a duration must look like 90s, 15m, 24h or 7d, got "${text}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  const ms = Number(match[1]) * unit;
  if (!(ms > 0)) throw new FedkitError('config-invalid', `a duration must be > 0, got "${text}"`);
  return ms;
}
