import { describe, expect, it } from 'vitest';
import { computeEpsilon, epsilonFromRdp } from '../src/accountant/conversion.js';
import { DEFAULT_RDP_ORDERS } from '../src/accountant/orders.js';
import { computeRdp } from '../src/accountant/subsampled-gaussian.js';

describe('computeEpsilon: known answers', () => {
  it('Opacus accountants_test test_rdp_accountant: σ = 1.5, q = 0.04, 2250 steps, δ = 1e-5 → 7.32911117143 at α = 3.9', () => {
    // Opacus asserts assertAlmostEqual (7 decimal places) with its default orders and signed
    // fractional series; we match to 7 places as well (the difference is ~1e-11).
    const { epsilon, order } = computeEpsilon({ samplingRate: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5 });
    expect(epsilon).toBeCloseTo(7.32911117143, 7);
    expect(order).toBe(3.9);
  });

  it('TF Privacy test_get_privacy_spent_check_target_delta: q = 1, σ = 4.530877117 is (1, 1e-6)-DP (7 places)', () => {
    // Orders 0.001·i; TF Privacy starts at i = 1000 (α = 1), which we reject as an order, so
    // we start at 1.001: α = 1 never attains the minimum.
    const orders = Array.from({ length: 98_999 }, (_, i) => 0.001 * (i + 1001));
    const { epsilon } = computeEpsilon({ samplingRate: 1, noiseMultiplier: 4.530877117, steps: 1, delta: 1e-6, orders });
    expect(epsilon).toBeCloseTo(1, 7);
  });

  it('TF Privacy test_check_composition: two phases give 8.509656 at α = 2.5 with the old conversion, less with ours', () => {
    // TF Privacy kept the old-formula value as an upper bound after switching conversions;
    // the old formula is written out here to check our RDP composition to 6 places.
    const orders = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 64, 256];
    const first = computeRdp({ samplingRate: 1e-4, noiseMultiplier: 0.4, steps: 40_000, orders });
    const second = computeRdp({ samplingRate: 0.1, noiseMultiplier: 2, steps: 100, orders });
    const rdp = first.map((r, k) => r + second[k]!);
    const old = orders.map((alpha, k) => rdp[k]! + Math.log(1 / 1e-5) / (alpha - 1));
    const oldBest = Math.min(...old);
    expect(oldBest).toBeCloseTo(8.509656, 6);
    expect(orders[old.indexOf(oldBest)]).toBe(2.5);
    const ours = epsilonFromRdp({ orders, rdp, delta: 1e-5 });
    expect(ours.epsilon).toBeLessThanOrEqual(8.509656);
    expect(ours.epsilon).toBeGreaterThan(0.7 * 8.509656); // REFERENCE §2: the old one is 15–30% larger
  });
});

describe('epsilonFromRdp', () => {
  it('TF Privacy / dp_accounting pure-DP check: constant RDP 1.1 over orders 2…32 → 1.32783806176 at α = 32', () => {
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const { epsilon, order } = epsilonFromRdp({ orders, rdp: orders.map(() => 1.1), delta: 1e-5 });
    expect(epsilon).toBeCloseTo(1.32783806176, 10);
    expect(order).toBe(32);
  });

  it('is exactly the improved formula at a single order', () => {
    const alpha = 4;
    const r = 0.7;
    const delta = 1e-6;
    const { epsilon } = epsilonFromRdp({ orders: [alpha], rdp: [r], delta });
    expect(epsilon).toBeCloseTo(r + Math.log(1 - 1 / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1), 14);
  });

  it('reports 0 when nothing was spent (dp_accounting test_zero_poisson_sample) or RDP is below δ²', () => {
    expect(epsilonFromRdp({ orders: [3.14159], rdp: [0], delta: 1e-10 }).epsilon).toBe(0);
    expect(computeEpsilon({ samplingRate: 0, noiseMultiplier: 1, steps: 100, delta: 1e-5 }).epsilon).toBe(0);
    expect(epsilonFromRdp({ orders: [2, 3], rdp: [1e-12, 1e-12], delta: 1e-5 }).epsilon).toBe(0);
  });

  it('never reports a negative ε', () => {
    expect(epsilonFromRdp({ orders: [8], rdp: [1e-4], delta: 0.9 }).epsilon).toBe(0);
  });

  it('gives ∞ for σ = 0 (dp_accounting test_epsilon_non_private_gaussian) and skips infinite orders otherwise', () => {
    const none = computeEpsilon({ samplingRate: 0.5, noiseMultiplier: 0, steps: 1, delta: 0.1 });
    expect(none.epsilon).toBe(Infinity);
    expect(none.order).toBeNaN();
    expect(epsilonFromRdp({ orders: [2, 3], rdp: [Infinity, 0.5], delta: 1e-5 }).order).toBe(3);
  });

  it('uses the default orders and checks its inputs', () => {
    const rdp = computeRdp({ samplingRate: 0.01, noiseMultiplier: 1 });
    expect(rdp).toHaveLength(DEFAULT_RDP_ORDERS.length);
    const orders = [2, 3];
    expect(() => epsilonFromRdp({ orders, rdp: [1], delta: 1e-5 })).toThrow(/1 values but there are 2 orders/);
    expect(() => epsilonFromRdp({ orders, rdp: [1, -1], delta: 1e-5 })).toThrow(/rdp\[1\]/);
    expect(() => epsilonFromRdp({ orders, rdp: [1, Number.NaN], delta: 1e-5 })).toThrow(RangeError);
    expect(() => epsilonFromRdp({ orders, rdp: [1, 1], delta: 0 })).toThrow(/delta.*got 0/);
    expect(() => epsilonFromRdp({ orders, rdp: [1, 1], delta: 1 })).toThrow(RangeError);
    expect(() => epsilonFromRdp({ orders, rdp: 'x' as unknown as number[], delta: 0.1 })).toThrow(TypeError);
    expect(() => computeEpsilon({ samplingRate: 0.1, noiseMultiplier: 1, delta: -1 })).toThrow(RangeError);
  });
});
