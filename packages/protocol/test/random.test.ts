import { describe, expect, it } from 'vitest';
import { cryptoRandomSource, randomInt, sampleWithoutReplacement, seededRandomSource } from '../src/random.js';

describe('seededRandomSource', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = seededRandomSource(42);
    const b = seededRandomSource(42);
    const c = seededRandomSource(43);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('gives uniform floats in [0, 1): mean 1/2 and variance 1/12 within 4 standard errors', () => {
    const random = seededRandomSource(7);
    const n = 200_000;
    let sum = 0;
    let sumSq = 0;
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const x = random.nextFloat();
      if (!(x >= 0 && x < 1)) outOfRange++;
      sum += x;
      sumSq += x * x;
    }
    expect(outOfRange).toBe(0);
    const mean = sum / n;
    const variance = sumSq / n - mean * mean;
    // Standard error of the mean of U(0,1) is sqrt(1/12/n) ≈ 6.5e-4.
    expect(Math.abs(mean - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.002);
  });
});

describe('cryptoRandomSource', () => {
  it('fills large buffers beyond the 65536-byte getRandomValues limit', () => {
    const bytes = new Uint8Array(200_000);
    cryptoRandomSource().fillBytes(bytes);
    const tail = bytes.subarray(150_000);
    expect(tail.some((b) => b !== 0)).toBe(true);
  });
});

describe('randomInt and sampling', () => {
  it('randomInt covers [0, n) evenly (chi-square, 9 dof, p≈0.001 bound 27.9)', () => {
    const random = seededRandomSource(1);
    const counts = new Array(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) counts[randomInt(random, 10)]++;
    const expected = n / 10;
    const chi2 = counts.reduce((s, c) => s + ((c - expected) ** 2) / expected, 0);
    expect(chi2).toBeLessThan(27.9);
  });

  it('rejects out-of-range arguments', () => {
    expect(() => randomInt(seededRandomSource(1), 0)).toThrow(RangeError);
    expect(() => sampleWithoutReplacement(seededRandomSource(1), [1, 2], 3)).toThrow(RangeError);
    expect(() => seededRandomSource(1.5)).toThrow(TypeError);
  });

  it('samples distinct items without mutating the input', () => {
    const items = [1, 2, 3, 4, 5, 6, 7, 8];
    const copy = items.slice();
    const picked = sampleWithoutReplacement(seededRandomSource(3), items, 5);
    expect(new Set(picked).size).toBe(5);
    expect(items).toEqual(copy);
  });
});
