import { FedkitError, seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { combineShares, decodeShare, interpolateAt, SHAMIR_PRIME, shareLength, splitSecret } from '../src/secagg/shamir.js';

const random = seededRandomSource(7);

function secret32(seed: number): Uint8Array {
  const out = new Uint8Array(32);
  seededRandomSource(seed).fillBytes(out);
  return out;
}

/** Every k-subset of `items` (small n only). */
function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [head, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [head!, ...s]), ...subsets(rest, k)];
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof FedkitError ? error.code : `not coded: ${String(error)}`;
  }
  return undefined;
}

describe('Shamir sharing over GF(2^127 − 1)', () => {
  it('uses the Mersenne prime 2^127 − 1 and 53-byte shares for a 32-byte secret', () => {
    expect(SHAMIR_PRIME).toBe(170141183460469231731687303715884105727n);
    expect(shareLength(32)).toBe(53);
  });

  it('any t of n shares rebuild the secret (3-of-6, every subset)', () => {
    const secret = secret32(1);
    const shares = splitSecret(secret, 3, [1, 2, 3, 4, 5, 6], random);
    for (const subset of subsets(shares, 3)) expect(combineShares(subset, 3)).toEqual(secret);
    for (const subset of subsets(shares, 5)) expect(combineShares(subset, 3)).toEqual(secret);
  });

  it('rebuilds secrets of every length, including limb boundaries and a 0xff-filled one', () => {
    for (const length of [1, 2, 14, 15, 16, 30, 31, 32, 33, 64]) {
      const secret = new Uint8Array(length).fill(0xff);
      const shares = splitSecret(secret, 4, [3, 9, 27, 81, 243, 729, 2187], random);
      expect(combineShares([shares[6]!, shares[0]!, shares[4]!, shares[2]!], 4)).toEqual(secret);
    }
  });

  it('works with x coordinates that are arbitrary client ids up to 65535', () => {
    const secret = secret32(2);
    const shares = splitSecret(secret, 2, [65535, 1, 40000], random);
    expect(combineShares([shares[0]!, shares[2]!], 2)).toEqual(secret);
  });

  it('t − 1 shares reveal nothing checkable: they are consistent with every candidate secret', () => {
    // Given t − 1 = 3 shares, for any candidate secret s′ the points (0, s′) and the 3 shares
    // fix a degree-3 polynomial; its value at a 4th x is a share that, with the 3 real ones,
    // rebuilds s′. So every s′ is equally possible from the 3 shares alone.
    const secret = secret32(3);
    const shares = splitSecret(secret, 4, [1, 2, 3, 4, 5], random);
    const seen = shares.slice(0, 3).map((s) => decodeShare(s));
    for (const seed of [10, 11, 12]) {
      const candidate = secret32(seed);
      const candidatePoint = { x: 0, secretLength: 32, limbs: decodeShare(splitSecret(candidate, 1, [1], random)[0]!).limbs };
      // x = 0 is not a valid share coordinate, so interpolate through the candidate point directly.
      const limbs = interpolateAt([...seen, candidatePoint], 5n);
      const forged = new Uint8Array(shareLength(32));
      forged.set(shares[4]!.subarray(0, 5));
      limbs.forEach((value, i) => {
        for (let b = 0; b < 16; b++) forged[5 + 16 * i + b] = Number((value >> BigInt(8 * (15 - b))) & 0xffn);
      });
      expect(combineShares([shares[0]!, shares[1]!, shares[2]!, forged], 4)).toEqual(candidate);
    }
  });

  it('t − 1 shares are statistically independent of the secret (first limb of a share is uniform)', () => {
    // Shares of an all-zero and an all-one secret: the top 4 bits of share 1's first limb
    // fall uniformly in 8 bins (the top bit is always 0 below 2^127). χ² with 7 degrees of
    // freedom stays below 24.3 (p = 0.001) for both.
    for (const fill of [0x00, 0xff]) {
      const secret = new Uint8Array(32).fill(fill);
      const bins = new Array<number>(8).fill(0);
      const draws = 4000;
      for (let i = 0; i < draws; i++) bins[splitSecret(secret, 3, [1, 2, 3], random)[0]![5]! >> 4]!++;
      const expected = draws / 8;
      const chi2 = bins.reduce((acc, count) => acc + (count - expected) ** 2 / expected, 0);
      expect(chi2).toBeLessThan(24.3);
    }
  });

  it('rejects malformed shares with secagg-share-invalid', () => {
    const secret = secret32(4);
    const shares = splitSecret(secret, 2, [1, 2, 3], random);
    const tamper = (index: number, value: number): Uint8Array => {
      const copy = shares[0]!.slice();
      copy[index] = value;
      return copy;
    };
    expect(codeOf(() => combineShares([shares[0]!.subarray(0, 40), shares[1]!], 2))).toBe('secagg-share-invalid'); // truncated
    expect(codeOf(() => combineShares([tamper(0, 2), shares[1]!], 2))).toBe('secagg-share-invalid'); // version
    expect(codeOf(() => combineShares([tamper(2, 0), shares[1]!], 2))).toBe('secagg-share-invalid'); // x = 0
    expect(codeOf(() => combineShares([tamper(4, 31), shares[1]!], 2))).toBe('secagg-share-invalid'); // secret length
    expect(codeOf(() => combineShares([tamper(5, 0x80), shares[1]!], 2))).toBe('secagg-share-invalid'); // limb ≥ p
    expect(codeOf(() => combineShares([shares[0]!, shares[0]!], 2))).toBe('secagg-share-invalid'); // repeated x
    expect(codeOf(() => combineShares([shares[0]!], 2))).toBe('secagg-share-invalid'); // too few
    const other = splitSecret(new Uint8Array(16), 2, [1, 2], random);
    expect(codeOf(() => combineShares([shares[0]!, other[1]!], 2))).toBe('secagg-share-invalid'); // mixed lengths
  });

  it('detects a corrupted share when its error lands outside the secret bytes', () => {
    // The last limb of a 32-byte secret holds 2 bytes: a corruption δ moves it by λ·δ mod p,
    // which fits 16 bits with probability ~2^16 / 2^127 for a random δ. (A tiny δ, such as
    // a flipped low bit, can pass: Shamir alone does not authenticate shares; the server
    // checks a rebuilt mask key against its public key and the sum against its range.)
    const shares = splitSecret(secret32(5), 2, [1, 2], random);
    const bad = shares[0]!.slice();
    bad[5 + 2 * 16]! ^= 0x10; // top byte of the last limb: δ = 2^124
    expect(codeOf(() => combineShares([bad, shares[1]!], 2))).toBe('secagg-share-invalid');
  });

  it('checks its arguments', () => {
    expect(() => splitSecret(new Uint8Array(0), 1, [1], random)).toThrow(RangeError);
    expect(() => splitSecret(secret32(6), 4, [1, 2, 3], random)).toThrow(RangeError);
    expect(() => splitSecret(secret32(6), 2, [1, 1, 2], random)).toThrow(RangeError);
    expect(() => splitSecret(secret32(6), 2, [0, 1], random)).toThrow(RangeError);
    expect(() => splitSecret(secret32(6), 2, [1, 65536], random)).toThrow(RangeError);
    expect(() => splitSecret([1, 2] as unknown as Uint8Array, 1, [1], random)).toThrow(TypeError);
  });
});
