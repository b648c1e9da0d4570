/**
 * t-of-n Shamir secret sharing, so that any `threshold` holders can rebuild a dropped client's
 * mask key (or a survivor's self-mask seed) while `threshold − 1` of them learn nothing.
 *
 * Field: GF(p) with p = 2^127 − 1, a Mersenne prime. Why this one: it is the largest field
 * whose elements fit 16 bytes, BigInt arithmetic on it is a few hundred nanoseconds, and a
 * byte string is split losslessly into 15-byte limbs (120 bits < 127), each shared with its
 * own random polynomial at the same x. A 32-byte secret (an X25519 key or a PRG seed) is
 * three limbs (15 + 15 + 2 bytes), so a share is 5 + 3·16 = 53 bytes. Shares are
 * information-theoretically hiding limb by limb, so splitting costs no security.
 *
 * Share layout: `[version=1][x: u16 BE][secret length: u16 BE][limb₀ … limbₘ: 16 bytes BE]`.
 * x is the holder's secure-aggregation id (1 … 65535); x = 0 would be the secret itself.
 */
import type { RandomSource } from '@fedkit/protocol';
import { assertBytes } from './bytes.js';
import { secAggError } from './errors.js';

/** The field modulus 2^127 − 1. */
export const SHAMIR_PRIME = (1n << 127n) - 1n;
/** Largest x coordinate (holder id) a share can carry. */
export const MAX_SHARE_X = 0xffff;

const VERSION = 1;
const HEADER_BYTES = 5;
const LIMB_BYTES = 15;
const ELEMENT_BYTES = 16;

/** A parsed share: its x coordinate and one field element per 15-byte limb of the secret. */
export interface DecodedShare {
  readonly x: number;
  readonly secretLength: number;
  readonly limbs: readonly bigint[];
}

/** Bytes of one encoded share for a secret of `secretLength` bytes. */
export function shareLength(secretLength: number): number {
  return HEADER_BYTES + ELEMENT_BYTES * Math.ceil(secretLength / LIMB_BYTES);
}

/**
 * Splits `secret` into one share per x in `xs`; any `threshold` of them rebuild it.
 *
 * @example
 * const [s1, s2, s3] = splitSecret(seed, 2, [1, 2, 3], cryptoRandomSource());
 * combineShares([s3, s1], 2); // equals seed
 */
export function splitSecret(secret: Uint8Array, threshold: number, xs: readonly number[], random: RandomSource): Uint8Array[] {
  assertBytes('secret', secret);
  if (secret.length < 1 || secret.length > 0xffff) throw new RangeError(`secret must be 1 … 65535 bytes, got ${secret.length}`);
  assertDistinctXs(xs);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > xs.length) {
    throw new RangeError(`threshold must be an integer in [1, ${xs.length}] (the number of shares), got ${threshold}`);
  }
  const limbCount = Math.ceil(secret.length / LIMB_BYTES);
  const shares = xs.map((x) => encodeHeader(x, secret.length, limbCount));
  const coefficients = new Array<bigint>(threshold);
  for (let limb = 0; limb < limbCount; limb++) {
    coefficients[0] = bytesToBigint(secret.subarray(limb * LIMB_BYTES, (limb + 1) * LIMB_BYTES));
    for (let d = 1; d < threshold; d++) coefficients[d] = randomElement(random);
    xs.forEach((x, i) => {
      const y = evaluate(coefficients, BigInt(x));
      writeElement(shares[i]!, HEADER_BYTES + limb * ELEMENT_BYTES, y);
    });
  }
  return shares;
}

/**
 * Rebuilds the secret from at least `threshold` shares (the first `threshold` are used).
 * Throws `FedkitError('secagg-share-invalid')` for a malformed share, repeated x, mixed
 * secret lengths, too few shares, or shares that do not interpolate to a byte string.
 */
export function combineShares(shares: readonly Uint8Array[], threshold: number): Uint8Array {
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > MAX_SHARE_X) {
    throw new RangeError(`threshold must be an integer in [1, ${MAX_SHARE_X}], got ${threshold}`);
  }
  if (shares.length < threshold) {
    throw secAggError('secagg-share-invalid', `need ${threshold} shares to reconstruct, got ${shares.length}`);
  }
  const decoded = shares.slice(0, threshold).map((share, i) => decodeShare(share, `share ${i}`));
  const secretLength = decoded[0]!.secretLength;
  const seen = new Set<number>();
  for (const share of decoded) {
    if (share.secretLength !== secretLength) {
      throw secAggError('secagg-share-invalid', `shares disagree on the secret length (${secretLength} vs ${share.secretLength} bytes)`);
    }
    if (seen.has(share.x)) throw secAggError('secagg-share-invalid', `two shares have x = ${share.x}`);
    seen.add(share.x);
  }
  const limbs = interpolateAt(decoded, 0n);
  const secret = new Uint8Array(secretLength);
  limbs.forEach((value, limb) => {
    const bytes = Math.min(LIMB_BYTES, secretLength - limb * LIMB_BYTES);
    if (value >> BigInt(8 * bytes) !== 0n) {
      throw secAggError('secagg-share-invalid', `shares are inconsistent: limb ${limb} does not fit ${bytes} bytes`);
    }
    writeBigint(secret, limb * LIMB_BYTES, bytes, value);
  });
  return secret;
}

/** Parses and checks one share. Throws `FedkitError('secagg-share-invalid')` naming the fault. */
export function decodeShare(bytes: Uint8Array, what = 'share'): DecodedShare {
  assertBytes(what, bytes);
  if (bytes.length < HEADER_BYTES + ELEMENT_BYTES) {
    throw secAggError('secagg-share-invalid', `${what} has ${bytes.length} bytes, at least ${HEADER_BYTES + ELEMENT_BYTES} expected`);
  }
  if (bytes[0] !== VERSION) throw secAggError('secagg-share-invalid', `${what} has version ${bytes[0]}, expected ${VERSION}`);
  const x = (bytes[1]! << 8) | bytes[2]!;
  const secretLength = (bytes[3]! << 8) | bytes[4]!;
  if (x === 0) throw secAggError('secagg-share-invalid', `${what} has x = 0 (the secret's own coordinate)`);
  if (secretLength === 0 || bytes.length !== shareLength(secretLength)) {
    throw secAggError('secagg-share-invalid', `${what} has ${bytes.length} bytes, expected ${shareLength(secretLength)} for a ${secretLength}-byte secret`);
  }
  const limbs: bigint[] = [];
  for (let offset = HEADER_BYTES; offset < bytes.length; offset += ELEMENT_BYTES) {
    const value = bytesToBigint(bytes.subarray(offset, offset + ELEMENT_BYTES));
    if (value >= SHAMIR_PRIME) throw secAggError('secagg-share-invalid', `${what} holds a limb outside GF(2^127 − 1)`);
    limbs.push(value);
  }
  return { x, secretLength, limbs };
}

/**
 * Lagrange interpolation of the shares' polynomials at `x`, one value per limb (x = 0 gives
 * the secret); the shares' x must be distinct. Exported for tests that show `threshold − 1`
 * shares fit any secret.
 */
export function interpolateAt(shares: readonly DecodedShare[], x: bigint): bigint[] {
  const xs = shares.map((share) => BigInt(share.x));
  const numerators = xs.map((_, i) => xs.reduce((acc, xj, j) => (j === i ? acc : mul(acc, mod(x - xj))), 1n));
  const denominators = xs.map((xi, i) => xs.reduce((acc, xj, j) => (j === i ? acc : mul(acc, mod(xi - xj))), 1n));
  if (denominators.includes(0n)) throw secAggError('secagg-share-invalid', 'two shares have the same x');
  const inverses = batchInvert(denominators);
  const basis = numerators.map((numerator, i) => mul(numerator, inverses[i]!));
  const limbCount = shares[0]?.limbs.length ?? 0;
  const out: bigint[] = [];
  for (let limb = 0; limb < limbCount; limb++) {
    let sum = 0n;
    shares.forEach((share, i) => {
      sum += mul(basis[i]!, share.limbs[limb]!);
    });
    out.push(sum % SHAMIR_PRIME);
  }
  return out;
}

function assertDistinctXs(xs: readonly number[]): void {
  if (!Array.isArray(xs) || xs.length === 0) throw new RangeError('xs must be a non-empty array of share x coordinates');
  const seen = new Set<number>();
  for (const x of xs) {
    if (!Number.isInteger(x) || x < 1 || x > MAX_SHARE_X) throw new RangeError(`share x must be an integer in [1, ${MAX_SHARE_X}], got ${x}`);
    if (seen.has(x)) throw new RangeError(`share x ${x} appears twice`);
    seen.add(x);
  }
}

function encodeHeader(x: number, secretLength: number, limbCount: number): Uint8Array {
  const share = new Uint8Array(HEADER_BYTES + limbCount * ELEMENT_BYTES);
  share[0] = VERSION;
  share[1] = x >>> 8;
  share[2] = x & 0xff;
  share[3] = secretLength >>> 8;
  share[4] = secretLength & 0xff;
  return share;
}

/** Uniform in [0, p): 127 random bits, rejecting the single value p itself. */
function randomElement(random: RandomSource): bigint {
  const bytes = new Uint8Array(ELEMENT_BYTES);
  for (;;) {
    random.fillBytes(bytes);
    bytes[0]! &= 0x7f;
    const value = bytesToBigint(bytes);
    if (value < SHAMIR_PRIME) return value;
  }
}

function evaluate(coefficients: readonly bigint[], x: bigint): bigint {
  let y = 0n;
  for (let d = coefficients.length - 1; d >= 0; d--) y = (y * x + coefficients[d]!) % SHAMIR_PRIME;
  return y;
}

function mod(a: bigint): bigint {
  const r = a % SHAMIR_PRIME;
  return r < 0n ? r + SHAMIR_PRIME : r;
}

function mul(a: bigint, b: bigint): bigint {
  return (a * b) % SHAMIR_PRIME;
}

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = base % SHAMIR_PRIME;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = mul(result, b);
    b = mul(b, b);
  }
  return result;
}

/** Montgomery's trick: one modular inversion (Fermat) for the whole list. */
function batchInvert(values: readonly bigint[]): bigint[] {
  const prefix: bigint[] = [];
  let acc = 1n;
  for (const v of values) {
    prefix.push(acc);
    acc = mul(acc, v);
  }
  let inverse = pow(acc, SHAMIR_PRIME - 2n);
  const out = new Array<bigint>(values.length);
  for (let i = values.length - 1; i >= 0; i--) {
    out[i] = mul(inverse, prefix[i]!);
    inverse = mul(inverse, values[i]!);
  }
  return out;
}

function bytesToBigint(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

function writeBigint(out: Uint8Array, offset: number, length: number, value: bigint): void {
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function writeElement(out: Uint8Array, offset: number, value: bigint): void {
  writeBigint(out, offset, ELEMENT_BYTES, value);
}
