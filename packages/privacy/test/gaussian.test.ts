import { cryptoRandomSource, seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { logErfc } from '../src/accountant/log-math.js';
import { addGaussianNoise, gaussianSampler } from '../src/gaussian.js';

/** Standard normal CDF Φ(x) = erfc(−x/√2)/2 (logErfc is checked against mpmath in log-math.test.ts). */
const normalCdf = (x: number): number => 0.5 * Math.exp(logErfc(-x / Math.SQRT2));

/** Sample mean, variance and the Kolmogorov–Smirnov distance to N(0, 1). */
function describeSample(draws: Float64Array): { mean: number; variance: number; ks: number } {
  const n = draws.length;
  let sum = 0;
  for (const z of draws) sum += z;
  const mean = sum / n;
  let squares = 0;
  for (const z of draws) squares += (z - mean) ** 2;
  const sorted = draws.slice().sort();
  let ks = 0;
  for (let i = 0; i < n; i++) {
    const f = normalCdf(sorted[i]!);
    ks = Math.max(ks, (i + 1) / n - f, f - i / n);
  }
  return { mean, variance: squares / (n - 1), ks };
}

const N = 200_000;

describe('gaussianSampler (Box–Muller), 200,000 draws from seededRandomSource(2024)', () => {
  const normal = gaussianSampler(seededRandomSource(2024));
  const draws = Float64Array.from({ length: N }, () => normal());
  const { mean, variance, ks } = describeSample(draws);

  it('has mean 0 within 4 standard errors (SE = 1/√n ≈ 0.0022)', () => {
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(N));
  });

  it('has variance 1 within 4 standard errors (SE of s² for a normal = √(2/(n−1)) ≈ 0.0032)', () => {
    expect(Math.abs(variance - 1)).toBeLessThan(4 * Math.sqrt(2 / (N - 1)));
  });

  it('passes Kolmogorov–Smirnov against Φ at significance 0.01: D < 1.628/√n ≈ 0.0036', () => {
    expect(ks).toBeLessThan(1.628 / Math.sqrt(N));
  });

  it('puts the right mass in the tails: P(|Z| > 2) = 0.0455, P(|Z| > 3) = 0.0027, each within 4 binomial SEs', () => {
    for (const [t, p] of [
      [2, 0.04550026389635839],
      [3, 0.0026997960632601866],
    ] as const) {
      let count = 0;
      for (const z of draws) if (Math.abs(z) > t) count++;
      expect(Math.abs(count / N - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / N));
    }
  });

  it('gives uncorrelated halves of each Box–Muller pair: |r| < 4/√(n/2)', () => {
    let cross = 0;
    for (let i = 0; i < N; i += 2) cross += (draws[i]! - mean) * (draws[i + 1]! - mean);
    const r = cross / (N / 2) / variance;
    expect(Math.abs(r)).toBeLessThan(4 / Math.sqrt(N / 2));
  });

  it('is reproducible for a seed', () => {
    const again = gaussianSampler(seededRandomSource(2024));
    expect(Array.from({ length: 5 }, () => again())).toEqual(Array.from(draws.subarray(0, 5)));
  });

  it('rejects something that is not a RandomSource', () => {
    expect(() => gaussianSampler({} as never)).toThrow(TypeError);
    expect(() => gaussianSampler(null as never)).toThrow(TypeError);
  });
});

describe('gaussianSampler with cryptoRandomSource', () => {
  it('has mean 0 and variance 1 within 5 standard errors over 100,000 draws (false alarm < 1e-6)', () => {
    const n = 100_000;
    const normal = gaussianSampler(cryptoRandomSource());
    const { mean, variance } = describeSample(Float64Array.from({ length: n }, () => normal()));
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / (n - 1)));
  });
});

describe('addGaussianNoise', () => {
  it('adds N(0, stddev²) per coordinate: the noise has mean 0, sd = stddev and passes KS at 0.01', () => {
    const values = new Float32Array(N).fill(3.5);
    const stddev = 0.25;
    const noisy = addGaussianNoise(values, stddev, seededRandomSource(7));
    const standardized = Float64Array.from(noisy, (v, i) => (v - values[i]!) / stddev);
    const { mean, variance, ks } = describeSample(standardized);
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(N));
    expect(Math.abs(variance - 1)).toBeLessThan(4 * Math.sqrt(2 / (N - 1)));
    expect(ks).toBeLessThan(1.628 / Math.sqrt(N));
  });

  it('returns a new array and leaves the input alone', () => {
    const values = new Float32Array([1, 2, 3]);
    const noisy = addGaussianNoise(values, 1, seededRandomSource(1));
    expect(noisy).not.toBe(values);
    expect(Array.from(values)).toEqual([1, 2, 3]);
    expect(Array.from(noisy)).not.toEqual([1, 2, 3]);
  });

  it('with stddev 0 returns an exact copy', () => {
    const values = new Float32Array([1.25, -7, 0]);
    expect(Array.from(addGaussianNoise(values, 0, seededRandomSource(1)))).toEqual([1.25, -7, 0]);
  });

  it('is deterministic for a seed and checks its arguments', () => {
    const values = new Float32Array(8);
    expect(addGaussianNoise(values, 1, seededRandomSource(3))).toEqual(addGaussianNoise(values, 1, seededRandomSource(3)));
    expect(() => addGaussianNoise(values, -1, seededRandomSource(3))).toThrow(/stddev.*-1/);
    expect(() => addGaussianNoise(values, Infinity, seededRandomSource(3))).toThrow(RangeError);
    expect(() => addGaussianNoise([0] as unknown as Float32Array, 1, seededRandomSource(3))).toThrow(TypeError);
  });
});
