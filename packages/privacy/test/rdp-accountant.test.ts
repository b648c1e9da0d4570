import { FedkitError } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { computeRdp } from '../src/accountant/subsampled-gaussian.js';
import { RdpAccountant } from '../src/accountant/rdp-accountant.js';

const opacusStep = { samplingRate: 0.04, noiseMultiplier: 1.5 };

describe('RdpAccountant', () => {
  it('reproduces Opacus test_rdp_accountant step by step: 2250 charges → ε = 7.32911117143 (7 places) at α = 3.9', () => {
    const accountant = new RdpAccountant();
    for (let i = 0; i < 2250; i++) accountant.charge(opacusStep);
    const { epsilon, order } = accountant.epsilon(1e-5);
    expect(epsilon).toBeCloseTo(7.32911117143, 7);
    expect(order).toBe(3.9);
    expect(accountant.steps).toBe(2250);
    expect(accountant.history).toEqual([{ ...opacusStep, steps: 2250 }]);
  });

  it('composes phases with different (q, σ) by adding RDP, in any order', () => {
    const a = { samplingRate: 0.01, noiseMultiplier: 1.1, steps: 500 };
    const b = { samplingRate: 0.05, noiseMultiplier: 2, steps: 40 };
    const ab = new RdpAccountant().charge(a).charge(b);
    const ba = new RdpAccountant().charge(b).charge(a);
    const sum = computeRdp(a).map((r, k) => r + computeRdp(b)[k]!);
    ab.rdp.forEach((r, k) => {
      expect(r).toBeCloseTo(sum[k]!, 12);
      expect(ba.rdp[k]).toBeCloseTo(r, 12);
    });
    expect(ab.history).toHaveLength(2);
    expect(ab.steps).toBe(540);
  });

  it('stays exact when q changes every round (more distinct mechanisms than it caches)', () => {
    const orders = [2, 3.5];
    const accountant = new RdpAccountant({ orders });
    const expected = [0, 0];
    for (let round = 0; round < 300; round++) {
      const charge = { samplingRate: 0.01 + round / 10_000, noiseMultiplier: 1.2, steps: 2 };
      accountant.charge(charge).charge(charge);
      computeRdp({ ...charge, orders }).forEach((r, k) => (expected[k]! += 2 * r));
    }
    accountant.rdp.forEach((r, k) => expect(r).toBeCloseTo(expected[k]!, 12));
    expect(accountant.history).toHaveLength(300);
  });

  it('TF Privacy test_compute_heterogeneous_rdp_different_sampling_probabilities: q = 0 then q = 1 at σ = 10, α = 20 → 0.1', () => {
    const accountant = new RdpAccountant({ orders: [20] });
    accountant.charge({ samplingRate: 0, noiseMultiplier: 10 }).charge({ samplingRate: 1, noiseMultiplier: 10 });
    expect(accountant.rdp).toEqual([0.1]);
  });

  it('starts at ε = 0 and ignores zero-step charges', () => {
    const accountant = new RdpAccountant();
    expect(accountant.epsilon(1e-5).epsilon).toBe(0);
    accountant.charge({ ...opacusStep, steps: 0 });
    expect(accountant.history).toEqual([]);
    expect(accountant.epsilon(1e-5).epsilon).toBe(0);
  });

  it('wouldExceed answers for the next charge without recording it', () => {
    const accountant = new RdpAccountant().charge({ ...opacusStep, steps: 2249 });
    const budget = { epsilon: 7.33, delta: 1e-5 };
    const before = accountant.rdp;
    expect(accountant.wouldExceed(budget, opacusStep)).toBe(false); // 2250 steps: 7.3291
    expect(accountant.wouldExceed(budget, { ...opacusStep, steps: 10 })).toBe(true);
    expect(accountant.wouldExceed(budget, { ...opacusStep, steps: 0 })).toBe(false);
    expect(accountant.rdp).toEqual(before);
    expect(accountant.steps).toBe(2249);
    expect(() => accountant.wouldExceed({ epsilon: -1, delta: 1e-5 }, opacusStep)).toThrow(/budget.epsilon/);
    expect(() => accountant.wouldExceed({ epsilon: 1, delta: 2 }, opacusStep)).toThrow(/budget.delta/);
    expect(() => accountant.wouldExceed(budget, { samplingRate: 3, noiseMultiplier: 1 })).toThrow(/next.samplingRate/);
  });

  it('σ = 0 spends everything', () => {
    const accountant = new RdpAccountant().charge({ samplingRate: 0.1, noiseMultiplier: 0 });
    expect(accountant.epsilon(1e-5).epsilon).toBe(Infinity);
    expect(accountant.wouldExceed({ epsilon: 100, delta: 1e-5 }, { samplingRate: 0, noiseMultiplier: 1 })).toBe(true);
  });

  it('validates charges, orders and δ, naming the value', () => {
    const accountant = new RdpAccountant();
    expect(() => accountant.charge({ samplingRate: 1.01, noiseMultiplier: 1 })).toThrow(/charge.samplingRate.*1.01/);
    expect(() => accountant.charge({ samplingRate: 0.1, noiseMultiplier: -2 })).toThrow(/charge.noiseMultiplier/);
    expect(() => accountant.charge({ samplingRate: 0.1, noiseMultiplier: 1, steps: -3 })).toThrow(/charge.steps/);
    expect(() => accountant.epsilon(0)).toThrow(/delta/);
    expect(() => new RdpAccountant({ orders: [2, 0.9] })).toThrow(/orders\[1\]/);
    expect(accountant.steps).toBe(0);
  });

  it('keeps its orders to itself', () => {
    const orders = [2, 4, 8];
    const accountant = new RdpAccountant({ orders });
    orders[0] = 100;
    expect(accountant.orders).toEqual([2, 4, 8]);
    expect(Object.isFrozen(accountant.orders)).toBe(true);
    accountant.rdp[0] = 5;
    expect(accountant.rdp[0]).toBe(0);
  });
});

describe('RdpAccountant persistence', () => {
  it('round-trips through JSON text with identical RDP and ε', () => {
    const accountant = new RdpAccountant()
      .charge({ ...opacusStep, steps: 1000 })
      .charge({ samplingRate: 0.02, noiseMultiplier: 0.9, steps: 17 })
      .charge({ ...opacusStep, steps: 3 });
    const restored = RdpAccountant.fromJSON(JSON.parse(JSON.stringify(accountant)));
    expect(restored.history).toEqual(accountant.history);
    expect(restored.orders).toEqual(accountant.orders);
    expect(restored.rdp).toEqual(accountant.rdp);
    expect(restored.epsilon(1e-5)).toEqual(accountant.epsilon(1e-5));
  });

  it('round-trips a σ = 0 charge, whose RDP (+∞) JSON could not hold', () => {
    const accountant = new RdpAccountant({ orders: [2, 3] }).charge({ samplingRate: 0.5, noiseMultiplier: 0 });
    const restored = RdpAccountant.fromJSON(JSON.parse(JSON.stringify(accountant)));
    expect(restored.rdp).toEqual([Infinity, Infinity]);
  });

  it('rejects damaged state with config-invalid, naming the field', () => {
    const good = new RdpAccountant({ orders: [2, 3] }).charge(opacusStep).toJSON();
    const bad: [unknown, RegExp][] = [
      [null, /state must be an object/],
      [{ ...good, kind: 'moments' }, /state.kind/],
      [{ ...good, version: 2 }, /state.version/],
      [{ ...good, orders: [2, 1] }, /state.orders\[1\]/],
      [{ ...good, history: {} }, /state.history must be an array/],
      [{ ...good, history: [null] }, /state.history\[0\] must be an object/],
      [{ ...good, history: [{ samplingRate: 0.1, noiseMultiplier: 1 }] }, /state.history\[0\].steps is missing/],
      [{ ...good, history: [{ samplingRate: 7, noiseMultiplier: 1, steps: 1 }] }, /state.history\[0\].samplingRate/],
      [{ ...good, history: [{ samplingRate: 0.1, noiseMultiplier: '1', steps: 1 }] }, /state.history\[0\].noiseMultiplier/],
      [{ ...good, history: [{ samplingRate: 0.1, noiseMultiplier: 1, steps: 0.5 }] }, /state.history\[0\].steps/],
    ];
    for (const [state, message] of bad) {
      let caught: unknown;
      try {
        RdpAccountant.fromJSON(state);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(FedkitError);
      expect((caught as FedkitError).code).toBe('config-invalid');
      expect((caught as FedkitError).message).toMatch(message);
    }
  });
});
