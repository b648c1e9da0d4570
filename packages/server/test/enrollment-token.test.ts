/**
 * Enrollment tokens: issued and verified; forged, expired, other-federation and malformed
 * tokens refused with their codes; a clock skew within the allowance accepted.
 */
import { describe, expect, it } from 'vitest';
import { createEnrollmentToken, parseDurationMs, verifyEnrollmentToken } from '../src/auth/enrollment-token.js';

const secret = new Uint8Array(32).fill(7);
const now = Date.UTC(2026, 10, 26, 12, 0, 0);
const verify = (token: string, extra: Partial<Parameters<typeof verifyEnrollmentToken>[1]> = {}) =>
  verifyEnrollmentToken(token, { secret, federationId: 'fed-a', clockSkewMs: 60_000, nowMs: now, ...extra });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? 'uncoded';
  }
  return 'none';
}

describe('enrollment tokens', () => {
  it('verifies a token it issued and returns its claims', () => {
    const { token, claims } = createEnrollmentToken({ secret, federationId: 'fed-a', ttlMs: 3600_000, nowMs: now, tokenId: 't1' });
    expect(token).toMatch(/^fkt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(verify(token)).toEqual(claims);
    expect(claims).toEqual({ federationId: 'fed-a', issuedAtMs: now, expiresAtMs: now + 3600_000, tokenId: 't1' });
  });

  it('refuses a forged token (other secret, edited payload, garbage)', () => {
    const other = createEnrollmentToken({ secret: new Uint8Array(32).fill(8), federationId: 'fed-a', ttlMs: 3600_000, nowMs: now }).token;
    expect(codeOf(() => verify(other))).toBe('auth-invalid');
    const { token } = createEnrollmentToken({ secret, federationId: 'fed-b', ttlMs: 3600_000, nowMs: now });
    const [prefix, , mac] = token.split('.');
    const edited = Buffer.from(JSON.stringify({ fed: 'fed-a', iat: now / 1000, exp: now / 1000 + 99_999, jti: 'x' })).toString('base64url');
    expect(codeOf(() => verify(`${prefix}.${edited}.${mac}`))).toBe('auth-invalid');
    for (const junk of ['', 'fkt1', 'fkt1..', 'jwt.a.b', 'fkt1.a.b.c']) expect(codeOf(() => verify(junk))).toBe('auth-invalid');
  });

  it('refuses a token of another federation and an expired one', () => {
    const other = createEnrollmentToken({ secret, federationId: 'fed-b', ttlMs: 3600_000, nowMs: now }).token;
    expect(codeOf(() => verify(other))).toBe('auth-wrong-federation');
    const old = createEnrollmentToken({ secret, federationId: 'fed-a', ttlMs: 60_000, nowMs: now - 3600_000 }).token;
    expect(codeOf(() => verify(old))).toBe('auth-expired');
    expect(() => verify(old)).toThrow(/expired at/);
  });

  it('accepts clocks skewed within the allowance both ways, refuses beyond it', () => {
    // Issued by a clock 50 s fast: "from the future" but within 60 s.
    const fast = createEnrollmentToken({ secret, federationId: 'fed-a', ttlMs: 3600_000, nowMs: now + 50_000 }).token;
    expect(verify(fast).tokenId).toBeTruthy();
    const tooFast = createEnrollmentToken({ secret, federationId: 'fed-a', ttlMs: 3600_000, nowMs: now + 120_000 }).token;
    expect(codeOf(() => verify(tooFast))).toBe('auth-invalid');
    // Expired 30 s ago by the server's clock: still inside the allowance.
    const justExpired = createEnrollmentToken({ secret, federationId: 'fed-a', ttlMs: 60_000, nowMs: now - 90_000 }).token;
    expect(verify(justExpired).federationId).toBe('fed-a');
    expect(codeOf(() => verify(justExpired, { clockSkewMs: 0 }))).toBe('auth-expired');
  });

  it('parses durations and refuses bad ones', () => {
    expect(parseDurationMs('24h')).toBe(86_400_000);
    expect(parseDurationMs('90s')).toBe(90_000);
    expect(parseDurationMs('7d')).toBe(7 * 86_400_000);
    for (const bad of ['', '24', 'h', '-1h', '0s', '1y']) expect(codeOf(() => parseDurationMs(bad))).toBe('config-invalid');
  });
});
