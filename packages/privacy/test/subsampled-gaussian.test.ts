import { describe, expect, it } from 'vitest';
import { DEFAULT_RDP_ORDERS } from '../src/accountant/orders.js';
import { computeRdp, subsampledGaussianRdp } from '../src/accountant/subsampled-gaussian.js';

/**
 * A_α = ∫ N(z; 0, σ²) · ((1 − q) + q·e^((2z − 1)/(2σ²)))^α dz by composite Simpson: the
 * definition the series expands, computed independently of it (TF Privacy and
 * dp_accounting test their series the same way, against an mpmath quadrature).
 */
function rdpByQuadrature(q: number, sigma: number, alpha: number): number {
  const lo = -16 * sigma;
  const hi = alpha + 16 * sigma;
  const n = 200_000;
  const h = (hi - lo) / n;
  const f = (z: number): number =>
    (Math.exp((-z * z) / (2 * sigma * sigma)) / (sigma * Math.sqrt(2 * Math.PI))) *
    (1 - q + q * Math.exp((2 * z - 1) / (2 * sigma * sigma))) ** alpha;
  let sum = f(lo) + f(hi);
  for (let i = 1; i < n; i++) sum += (i % 2 === 1 ? 4 : 2) * f(lo + i * h);
  return Math.log((sum * h) / 3) / (alpha - 1);
}

describe('subsampledGaussianRdp: closed forms', () => {
  it('q = 1 is the plain Gaussian α/(2σ²) (TF Privacy test_compute_rdp_no_sampling: 0.1 at σ = 10, α = 20)', () => {
    expect(subsampledGaussianRdp({ samplingRate: 1, noiseMultiplier: 10, order: 20 })).toBe(0.1);
    expect(subsampledGaussianRdp({ samplingRate: 1, noiseMultiplier: 2.71828, order: 3.14159 })).toBeCloseTo(
      3.14159 / (2 * 2.71828 ** 2),
      15,
    );
  });

  it('q = 0 costs nothing (TF Privacy test_compute_rdp_no_data), even with σ = 0', () => {
    expect(subsampledGaussianRdp({ samplingRate: 0, noiseMultiplier: 10, order: 20 })).toBe(0);
    expect(subsampledGaussianRdp({ samplingRate: 0, noiseMultiplier: 0, order: 2.5 })).toBe(0);
  });

  it('σ = 0 with q > 0 is no privacy at all: +∞', () => {
    expect(subsampledGaussianRdp({ samplingRate: 0.01, noiseMultiplier: 0, order: 2 })).toBe(Infinity);
  });
});

describe('computeRdp: known answers from peer libraries', () => {
  it('TF Privacy rdp_accountant_test test_compute_rdp_scalar: q = 0.1, σ = 2, 10 steps, α = 5 → 0.07737 (5 places)', () => {
    const [rdp] = computeRdp({ samplingRate: 0.1, noiseMultiplier: 2, steps: 10, orders: [5] });
    expect(rdp).toBeCloseTo(0.07737, 5);
  });

  it('TF Privacy test_compute_rdp_sequence: q = 0.01, σ = 2.5, 50 steps (absolute 1e-5, its tolerance)', () => {
    const orders = [1.5, 2.5, 5, 50, 100];
    const expected = [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307];
    const rdp = computeRdp({ samplingRate: 0.01, noiseMultiplier: 2.5, steps: 50, orders });
    rdp.forEach((r, k) => expect(Math.abs(r - expected[k]!)).toBeLessThan(1e-5));
  });

  it('dp_accounting test_compute_rdp_poisson_sampled_gaussian: integer orders agree to 1e-8 relative', () => {
    // Its values carry 9 significant digits; integer orders use the same exact binomial sum.
    const orders = [5, 50, 100];
    const expected = [2.18075656e-3, 2.38460375e-2, 1.67416308e2];
    const rdp = computeRdp({ samplingRate: 0.01, noiseMultiplier: 2.5, steps: 50, orders });
    rdp.forEach((r, k) => expect(Math.abs(r / expected[k]! - 1)).toBeLessThan(1e-8));
  });

  it('fractional orders follow the signed series, not dp_accounting |terms| (3% apart at α = 1.5)', () => {
    // dp_accounting reports 6.70579741e-4 at α = 1.5 and 1.08548710e-3 at α = 2.5 for the same
    // mechanism; TF Privacy (signed, like Opacus) reports 0.00065. The quadrature below sides
    // with the signed series to 1e-6.
    const [at15, at25] = computeRdp({ samplingRate: 0.01, noiseMultiplier: 2.5, steps: 50, orders: [1.5, 2.5] });
    expect(at15! / 6.70579741e-4).toBeLessThan(0.975);
    expect(Math.abs(at25! / 1.0854871e-3 - 1)).toBeLessThan(1e-4);
    expect(Math.abs(at15! / (50 * rdpByQuadrature(0.01, 2.5, 1.5)) - 1)).toBeLessThan(1e-6);
  });
});

describe('computeRdp: the series against quadrature of its definition', () => {
  // Parameters in the spirit of TF Privacy's test_compute_log_a_equals_mp, restricted to where a
  // float64 Simpson rule is itself accurate (σ ≥ 1, moderate α). Tolerance 1e-6 relative: the
  // quadrature of A_α ≈ 1 + tiny loses digits in log A, not the series.
  const cases = [
    { q: 0.04, sigma: 1.5, alpha: 3.9 },
    { q: 0.01, sigma: 1, alpha: 1.1 },
    { q: 0.1, sigma: 2, alpha: 7.5 },
    { q: 0.5, sigma: 3, alpha: 2.25 },
    { q: 0.04, sigma: 1.5, alpha: 4 },
  ];
  it.each(cases)('q = $q, σ = $sigma, α = $alpha', ({ q, sigma, alpha }) => {
    const series = subsampledGaussianRdp({ samplingRate: q, noiseMultiplier: sigma, order: alpha });
    expect(Math.abs(series / rdpByQuadrature(q, sigma, alpha) - 1)).toBeLessThan(1e-6);
  });
});

describe('computeRdp: structure', () => {
  it('scales linearly with steps and aligns with the orders given', () => {
    const one = computeRdp({ samplingRate: 0.02, noiseMultiplier: 1.1 });
    const many = computeRdp({ samplingRate: 0.02, noiseMultiplier: 1.1, steps: 300 });
    expect(one).toHaveLength(DEFAULT_RDP_ORDERS.length);
    many.forEach((r, k) => expect(r).toBeCloseTo(300 * one[k]!, 12));
    expect(computeRdp({ samplingRate: 0.02, noiseMultiplier: 1.1, steps: 0 }).every((r) => r === 0)).toBe(true);
  });

  it('is non-negative, grows with the order and falls with σ', () => {
    const low = computeRdp({ samplingRate: 0.05, noiseMultiplier: 0.8 });
    const high = computeRdp({ samplingRate: 0.05, noiseMultiplier: 1.6 });
    for (let k = 0; k < low.length; k++) {
      expect(high[k]!).toBeGreaterThanOrEqual(0);
      expect(high[k]!).toBeLessThan(low[k]!);
      if (k > 0) expect(low[k]!).toBeGreaterThanOrEqual(low[k - 1]!);
    }
  });

  it('is continuous between fractional and integer orders (two code paths)', () => {
    const [below, at, above] = computeRdp({ samplingRate: 0.04, noiseMultiplier: 1.5, orders: [3 - 1e-9, 3, 3 + 1e-9] });
    expect(Math.abs(below! / at! - 1)).toBeLessThan(1e-7);
    expect(Math.abs(above! / at! - 1)).toBeLessThan(1e-7);
  });
});

describe('computeRdp: log A_α at the parameters of TF Privacy test_compute_log_a_equals_mp', () => {
  // Parameters from TF Privacy rdp_accountant_test.py (also in dp_accounting
  // rdp_privacy_accountant_test.py), which compare against an mpmath quadrature computed at test
  // time with rtol 1e-4. Reference log A_α here: mpmath 1.3 quad of the same integral at 60
  // digits, split at z0 and α. Tolerance: 1e-6 relative plus 1e-13 absolute, because
  // A_α = 1 + (tiny) carries ~1e-16 of rounding into log A_α.
  const vectors: [q: number, sigma: number, alpha: number, logA: number][] = [
    [1e-7, 0.1, 1.01, 4.0034123225263955e-08],
    [1e-6, 0.1, 256, 3260463.229297161],
    [1e-5, 0.1, 256.1, 3263607.0397884212],
    [1e-6, 1, 27, 8.769511304848502e-10],
    [1e-4, 1, 1.5, 6.4426869538366495e-09],
    [1e-3, 1, 2, 1.7182803522145153e-06],
    [0.01, 10, 20, 0.00019129699912842963],
    [0.1, 100, 20.5, 0.00019991818458068295],
    [0.99, 0.1, 256, 3263997.4271140215],
    [0.999, 100, 256.1, 3.260108037973112],
  ];
  it.each(vectors)('q = %d, σ = %d, α = %d', (q, sigma, alpha, logA) => {
    const got = subsampledGaussianRdp({ samplingRate: q, noiseMultiplier: sigma, order: alpha }) * (alpha - 1);
    expect(Math.abs(got - logA)).toBeLessThanOrEqual(1e-6 * Math.abs(logA) + 1e-13);
  });
});

describe('computeRdp: validation', () => {
  it('names the bad value', () => {
    expect(() => computeRdp({ samplingRate: 1.5, noiseMultiplier: 1 })).toThrow(/phase.samplingRate.*1.5/);
    expect(() => computeRdp({ samplingRate: -0.1, noiseMultiplier: 1 })).toThrow(RangeError);
    expect(() => computeRdp({ samplingRate: 0.1, noiseMultiplier: -1 })).toThrow(/noiseMultiplier.*-1/);
    expect(() => computeRdp({ samplingRate: 0.1, noiseMultiplier: Number.NaN })).toThrow(RangeError);
    expect(() => computeRdp({ samplingRate: 0.1, noiseMultiplier: 1, steps: 2.5 })).toThrow(/steps.*2.5/);
    expect(() => computeRdp({ samplingRate: 0.1, noiseMultiplier: 1, steps: -1 })).toThrow(RangeError);
    expect(() => computeRdp({ samplingRate: '0.1' as unknown as number, noiseMultiplier: 1 })).toThrow(TypeError);
  });

  it('requires finite orders > 1', () => {
    const phase = { samplingRate: 0.1, noiseMultiplier: 1 };
    expect(() => computeRdp({ ...phase, orders: [2, 1] })).toThrow(/orders\[1\].*got 1/);
    expect(() => computeRdp({ ...phase, orders: [0.5] })).toThrow(RangeError);
    expect(() => computeRdp({ ...phase, orders: [Infinity] })).toThrow(RangeError);
    expect(() => computeRdp({ ...phase, orders: [] })).toThrow(RangeError);
    expect(() => computeRdp({ ...phase, orders: ['2'] as unknown as number[] })).toThrow(TypeError);
    expect(() => subsampledGaussianRdp({ ...phase, order: 1 })).toThrow(RangeError);
  });
});
