import { FedkitError, seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';

import { partition, partitionLabelCounts } from '../src/data/partition.js';

const NUM_CLASSES = 10;
const PER_CLASS = 2000;
const labels = Uint8Array.from({ length: NUM_CLASSES * PER_CLASS }, (_, i) => i % NUM_CLASSES);

/** Raw moment E[X^a Y^b] of two coordinates of Dir(α·1_K) (a, b ≥ 0 integers). */
function dirichletMoment(alpha: number, k: number, a: number, b: number): number {
  const rising = (x: number, n: number): number => Array.from({ length: n }, (_, i) => x + i).reduce((p, q) => p * q, 1);
  return (rising(alpha, a) * rising(alpha, b)) / rising(k * alpha, a + b);
}

/**
 * Shares s[c][k] = (examples of class c at client k) / (examples of class c), over
 * `repeats` independent partitions: one Dir(α·1_K) vector per class per partition.
 */
function classShares(alpha: number, numClients: number, repeats: number, seed: number): number[][] {
  const random = seededRandomSource(seed);
  const vectors: number[][] = [];
  for (let r = 0; r < repeats; r++) {
    const parts = partition(labels, { kind: 'dirichlet', alpha, minExamples: 0 }, numClients, random);
    const counts = partitionLabelCounts(labels, parts, NUM_CLASSES);
    for (let c = 0; c < NUM_CLASSES; c++) vectors.push(counts.map((row) => row[c]! / PER_CLASS));
  }
  return vectors;
}

describe('partition: dirichlet proportions (statistical)', () => {
  // Each class is split by p ~ Dir(α·1_K), so a client's share of a class is Beta(α, (K−1)α):
  // mean 1/K, variance σ² = (1/K)(1 − 1/K)/(Kα + 1). With M = 1,000 independent vectors:
  // - the mean share of a fixed client has standard error sqrt(σ²/M);
  // - the per-vector average of (s_k − 1/K)² equals (Σ s_k² − 1/K)/K, whose variance
  //   Var(Σ X_k²)/K² follows from the Dirichlet moments E[X⁴] and E[X_i² X_j²].
  // We allow 5 standard errors. Rounding counts to whole examples moves a share by < 1/2000:
  // about 2.5e-4 on a client's mean and ≈ 1/(6·2000²) ≈ 4e-8 on the variance, both far
  // inside the tolerances below.
  const K = 10;
  const M = 100 * NUM_CLASSES;

  it.each([0.1, 1, 10])('alpha %s, K = 10: share mean 1/K and variance (1/K)(1−1/K)/(Kα+1) within 5 standard errors', (alpha) => {
    const vectors = classShares(alpha, K, M / NUM_CLASSES, Math.round(alpha * 10));
    const mu = 1 / K;
    const sigma2 = (mu * (1 - mu)) / (K * alpha + 1);

    for (const client of [0, K - 1]) {
      const mean = vectors.reduce((s, v) => s + v[client]!, 0) / M;
      expect(Math.abs(mean - mu)).toBeLessThan(5 * Math.sqrt(sigma2 / M));
    }

    const perVector = vectors.map((v) => v.reduce((s, x) => s + (x - mu) ** 2, 0) / K);
    const variance = perVector.reduce((s, y) => s + y, 0) / M;
    const sumSquares = K * dirichletMoment(alpha, K, 2, 0);
    const sumSquaresSecond = K * dirichletMoment(alpha, K, 4, 0) + K * (K - 1) * dirichletMoment(alpha, K, 2, 2);
    const standardError = Math.sqrt((sumSquaresSecond - sumSquares ** 2) / (K * K) / M);
    expect(Math.abs(variance - sigma2)).toBeLessThan(5 * standardError);
  });

  it('approaches the global label mix for large alpha and concentrates for small alpha', () => {
    // Mean total-variation distance between a client's label mix and the uniform mix.
    const distance = (alpha: number): number => {
      const parts = partition(labels, { kind: 'dirichlet', alpha, minExamples: 0 }, 10, seededRandomSource(5));
      const mixes = partitionLabelCounts(labels, parts, NUM_CLASSES).filter((row) => row.some((c) => c > 0));
      const tv = mixes.map((row) => {
        const total = row.reduce((s, c) => s + c, 0);
        return row.reduce((s, c) => s + Math.abs(c / total - 1 / NUM_CLASSES), 0) / 2;
      });
      return tv.reduce((s, d) => s + d, 0) / tv.length;
    };
    // α = 1000: shares have sd ≈ 0.003 around 0.1, so each mix is within a few percent of uniform.
    expect(distance(1000)).toBeLessThan(0.05);
    // α = 0.01: each class goes almost whole to one client, so a client's mix is one or two digits.
    expect(distance(0.01)).toBeGreaterThan(0.7);
  });
});

describe('partition: dirichlet contract', () => {
  it('is an exact cover in which every client has at least minExamples', () => {
    const parts = partition(labels, { kind: 'dirichlet', alpha: 0.3, minExamples: 100 }, 20, seededRandomSource(1));
    expect(parts).toHaveLength(20);
    expect(Math.min(...parts.map((p) => p.length))).toBeGreaterThanOrEqual(100);
    const all = parts.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from(labels.keys()));
    for (const part of parts) expect(part).toEqual(part.slice().sort((a, b) => a - b));
  });

  it('gives up after maxAttempts with a clear config-invalid error', () => {
    try {
      partition(labels, { kind: 'dirichlet', alpha: 0.1, minExamples: 2000, maxAttempts: 5 }, 10, seededRandomSource(1));
      throw new Error('did not throw');
    } catch (error) {
      expect(error).toBeInstanceOf(FedkitError);
      expect((error as FedkitError).code).toBe('config-invalid');
      expect((error as FedkitError).message).toMatch(
        /alpha 0\.1\) gave some client fewer than minExamples 2000 examples in all 5 attempts .*raise alpha, lower minExamples or numClients, or raise maxAttempts/,
      );
    }
  });

  it('rejects impossible or malformed settings, naming the field', () => {
    const cases: [object, RegExp][] = [
      [{ alpha: 0 }, /alpha must be a finite number > 0, got 0/],
      [{ alpha: -1 }, /alpha must be a finite number > 0, got -1/],
      [{ alpha: Number.NaN }, /alpha must be a finite number > 0, got NaN/],
      [{ alpha: Infinity }, /alpha must be a finite number > 0/],
      [{ alpha: '0.5' }, /alpha must be a finite number > 0, got 0\.5/],
      [{ alpha: 1, minExamples: -1 }, /minExamples must be an integer ≥ 0, got -1/],
      [{ alpha: 1, maxAttempts: 0 }, /maxAttempts must be an integer ≥ 1, got 0/],
      [{ alpha: 1, minExamples: 2001 }, /cannot give 10 clients minExamples 2001 each from 20000 examples/],
    ];
    for (const [fields, message] of cases) {
      expect(() => partition(labels, { kind: 'dirichlet', ...fields } as never, 10, seededRandomSource(1))).toThrow(message);
    }
  });
});
