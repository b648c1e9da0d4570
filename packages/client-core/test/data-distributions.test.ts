import { seededRandomSource, type RandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';

import { sampleDirichlet, sampleGamma, sampleLogGamma, sampleStandardNormal } from '../src/data/distributions.js';

// Reference CDFs for the Kolmogorov–Smirnov tests (Numerical Recipes' series and
// continued fraction for the regularized lower incomplete gamma P(a, x)).
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

function lnGamma(z: number): number {
  if (z < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * z))) - lnGamma(1 - z);
  const w = z - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < 9; i++) sum += LANCZOS[i]! / (w + i);
  const t = w + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (w + 0.5) * Math.log(t) - t + Math.log(sum);
}

function gammaCdf(a: number, x: number): number {
  if (x <= 0) return 0;
  const front = Math.exp(-x + a * Math.log(x) - lnGamma(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000 && Math.abs(term) > Math.abs(sum) * 1e-15; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return sum * front;
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return 1 - front * h;
}

const normalCdf = (x: number): number => 0.5 + 0.5 * Math.sign(x) * gammaCdf(0.5, (x * x) / 2);

/** The KS statistic sup |F_n − F| of a sample against a continuous CDF. */
function ksStatistic(sample: number[], cdf: (x: number) => number): number {
  const sorted = sample.slice().sort((a, b) => a - b);
  const n = sorted.length;
  let d = 0;
  sorted.forEach((x, i) => {
    const f = cdf(x);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  });
  return d;
}

/** Critical value of the one-sample KS test at significance 0.001: sqrt(-ln(0.0005)/2)/sqrt(n). */
const ks001 = (n: number): number => 1.95 / Math.sqrt(n);

function draws(n: number, draw: () => number): number[] {
  return Array.from({ length: n }, draw);
}

function moments(xs: number[]): { mean: number; variance: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return { mean, variance: xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length };
}

describe('reference CDF used by the KS tests', () => {
  it('matches closed forms: P(1, x) = 1 − e^−x and Φ', () => {
    for (const x of [0.01, 0.5, 1, 2, 7, 30]) expect(gammaCdf(1, x)).toBeCloseTo(1 - Math.exp(-x), 12);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 12);
    expect(normalCdf(-1)).toBeCloseTo(0.15865525393145707, 12);
    expect(lnGamma(0.3)).toBeCloseTo(Math.log(2.991568987687590), 12);
  });
});

describe('sampleStandardNormal', () => {
  it('has mean 0 and variance 1 within 5 standard errors (n = 200,000)', () => {
    const random = seededRandomSource(11);
    const n = 200_000;
    const { mean, variance } = moments(draws(n, () => sampleStandardNormal(random)));
    expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(1 / n));
    // Var of (X − μ)² is μ4 − σ⁴ = 2 for a standard normal.
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it('passes a KS test against Φ at significance 0.001 (n = 20,000)', () => {
    const random = seededRandomSource(12);
    const n = 20_000;
    expect(ksStatistic(draws(n, () => sampleStandardNormal(random)), normalCdf)).toBeLessThan(ks001(n));
  });
});

describe('sampleGamma', () => {
  // Gamma(k, 1): mean k, variance k, Var((X − μ)²) = μ4 − σ⁴ = (3k² + 6k) − k² = 2k² + 6k.
  it.each([0.1, 0.5, 1, 2.5, 10])('shape %s: mean and variance equal the shape within 5 standard errors (n = 200,000)', (k) => {
    const random = seededRandomSource(Math.round(k * 1000));
    const n = 200_000;
    const { mean, variance } = moments(draws(n, () => sampleGamma(random, k)));
    expect(Math.abs(mean - k)).toBeLessThan(5 * Math.sqrt(k / n));
    expect(Math.abs(variance - k)).toBeLessThan(5 * Math.sqrt((2 * k * k + 6 * k) / n));
  });

  it.each([0.3, 1, 4])('shape %s: passes a KS test against the Gamma CDF at significance 0.001 (n = 20,000)', (k) => {
    const random = seededRandomSource(100 + Math.round(k * 10));
    const n = 20_000;
    expect(ksStatistic(draws(n, () => sampleGamma(random, k)), (x) => gammaCdf(k, x))).toBeLessThan(ks001(n));
  });

  it('keeps tiny shapes finite in log space, where the plain value underflows', () => {
    const random = seededRandomSource(3);
    const logs = draws(1000, () => sampleLogGamma(random, 0.001));
    expect(logs.every(Number.isFinite)).toBe(true);
    // E[log G] = ψ(a) ≈ −1/a for tiny a: the mean log is of order −1000.
    const mean = logs.reduce((s, x) => s + x, 0) / logs.length;
    expect(mean).toBeLessThan(-500);
  });

  it('is deterministic for a seed', () => {
    const a = seededRandomSource(9);
    const b = seededRandomSource(9);
    expect(draws(50, () => sampleGamma(a, 0.7))).toEqual(draws(50, () => sampleGamma(b, 0.7)));
  });

  it('rejects shapes that are not finite and positive', () => {
    const random = seededRandomSource(1);
    for (const bad of [0, -1, Number.NaN, Infinity]) {
      expect(() => sampleGamma(random, bad)).toThrow(/gamma shape must be a finite number > 0/);
    }
  });
});

describe('sampleDirichlet', () => {
  function coordinates(random: RandomSource, alpha: number, k: number, n: number): number[][] {
    return draws(n, () => 0).map(() => sampleDirichlet(random, new Array<number>(k).fill(alpha)));
  }

  // For Dir(α·1_K) each coordinate is Beta(α, (K − 1)α): mean 1/K, variance
  // (1/K)(1 − 1/K)/(Kα + 1). Draws are independent, so the standard error of the mean of
  // coordinate 0 is sqrt(variance / n); for the variance we bound Var((X − μ)²) by the
  // Beta's fourth central moment from its raw moments.
  it.each([0.05, 0.5, 5])('alpha %s, K = 10: coordinate mean and variance within 5 standard errors (n = 40,000)', (alpha) => {
    const random = seededRandomSource(Math.round(alpha * 100));
    const k = 10;
    const n = 40_000;
    const xs = coordinates(random, alpha, k, n).map((p) => p[0]!);
    const mu = 1 / k;
    const sigma2 = (mu * (1 - mu)) / (k * alpha + 1);
    const a = alpha;
    const total = k * alpha;
    const raw = [1, 2, 3, 4].map((r) => Array.from({ length: r }, (_, i) => (a + i) / (total + i)).reduce((p, q) => p * q, 1));
    const mu4 = raw[3]! - 4 * mu * raw[2]! + 6 * mu * mu * raw[1]! - 3 * mu ** 4;
    const { mean, variance } = moments(xs);
    expect(Math.abs(mean - mu)).toBeLessThan(5 * Math.sqrt(sigma2 / n));
    expect(Math.abs(variance - sigma2)).toBeLessThan(5 * Math.sqrt((mu4 - sigma2 * sigma2) / n));
  });

  it('sums to 1 and stays finite for tiny concentrations', () => {
    const random = seededRandomSource(4);
    for (const p of coordinates(random, 0.001, 50, 200)) {
      expect(p.every((x) => Number.isFinite(x) && x >= 0)).toBe(true);
      expect(p.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    }
  });

  it('handles asymmetric concentrations: E[p_i] = α_i / Σα within 5 standard errors', () => {
    const random = seededRandomSource(8);
    const alphas = [1, 2, 7];
    const n = 20_000;
    const sums = [0, 0, 0];
    for (let i = 0; i < n; i++) sampleDirichlet(random, alphas).forEach((x, j) => (sums[j]! += x));
    alphas.forEach((a, j) => {
      const m = a / 10;
      const sd = Math.sqrt((m * (1 - m)) / 11);
      expect(Math.abs(sums[j]! / n - m)).toBeLessThan(5 * (sd / Math.sqrt(n)));
    });
  });

  it('rejects an empty concentration vector', () => {
    expect(() => sampleDirichlet(seededRandomSource(1), [])).toThrow(RangeError);
  });
});
