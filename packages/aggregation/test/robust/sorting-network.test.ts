/**
 * Sorting networks: Batcher's odd–even merge sort cut to n, and its pruning to wanted ranks.
 * The 0-1 principle (Knuth, TAOCP vol. 3, §5.3.4, Theorem Z) says a comparator network sorts
 * every input if and only if it sorts every input of 0s and 1s, so for n ≤ 14 the check is
 * exhaustive: a proof, not a sample.
 */
import { seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { sortingNetwork } from '../../src/robust/sorting-network.js';

function apply(network: Int32Array, values: number[]): number[] {
  const a = values.slice();
  for (let c = 0; c < network.length; c += 2) {
    const i = network[c]!;
    const j = network[c + 1]!;
    if (a[j]! < a[i]!) [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('sortingNetwork', () => {
  it('sorts every 0/1 input for n = 1..14 (0-1 principle: it sorts everything)', () => {
    for (let n = 1; n <= 14; n++) {
      const network = sortingNetwork(n);
      for (let bits = 0; bits < 1 << n; bits++) {
        const input = Array.from({ length: n }, (_, i) => (bits >> i) & 1);
        const ones = input.reduce((s, v) => s + v, 0);
        const expected = Array.from({ length: n }, (_, i) => (i >= n - ones ? 1 : 0));
        expect(apply(network, input), `n = ${n}, input ${bits.toString(2)}`).toEqual(expected);
      }
    }
  });

  it('sorts random inputs for sizes up to 130 (not powers of two included)', () => {
    const random = seededRandomSource(1);
    for (const n of [15, 17, 31, 33, 64, 99, 100, 101, 130]) {
      const network = sortingNetwork(n);
      for (let trial = 0; trial < 20; trial++) {
        const input = Array.from({ length: n }, () => Math.floor(random.nextFloat() * 20));
        expect(apply(network, input)).toEqual(input.slice().sort((a, b) => a - b));
      }
    }
  });

  it('pruned to the middle ranks still puts them in place, with fewer comparators', () => {
    const random = seededRandomSource(2);
    for (const n of [2, 5, 8, 33, 100]) {
      const lo = (n - 1) >> 1;
      const hi = n >> 1;
      const pruned = sortingNetwork(n, lo, hi + 1);
      if (n >= 8) expect(pruned.length).toBeLessThan(sortingNetwork(n).length);
      for (let trial = 0; trial < 50; trial++) {
        const input = Array.from({ length: n }, () => random.nextFloat());
        const sorted = input.slice().sort((a, b) => a - b);
        const out = apply(pruned, input);
        expect([out[lo], out[hi]]).toEqual([sorted[lo], sorted[hi]]);
      }
    }
  });

  it('rejects sizes and rank ranges that make no sense', () => {
    expect(() => sortingNetwork(0)).toThrow(RangeError);
    expect(() => sortingNetwork(2.5)).toThrow(/positive integer/);
    expect(() => sortingNetwork(5, 3, 3)).toThrow(/\[3, 3\)/);
    expect(() => sortingNetwork(5, 0, 6)).toThrow(RangeError);
  });
});
