import { describe, expect, it } from 'vitest';
import * as accountant from '../src/accountant/index.js';
import * as privacy from '../src/index.js';

describe('public API', () => {
  it('exports clipping, noise and accounting from the package root', () => {
    for (const name of [
      'l2Norm',
      'clipL2',
      'clipL2PerLayer',
      'perLayerClipNorms',
      'addGaussianNoise',
      'gaussianSampler',
      'computeRdp',
      'subsampledGaussianRdp',
      'epsilonFromRdp',
      'computeEpsilon',
      'noiseMultiplierForEpsilon',
      'RdpAccountant',
      'assertValidOrders',
    ]) {
      expect(typeof (privacy as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(privacy.DEFAULT_RDP_ORDERS).toHaveLength(151);
  });

  it('exports the accountant on its own, the same objects as the root', () => {
    expect(accountant.RdpAccountant).toBe(privacy.RdpAccountant);
    expect(Object.keys(accountant).every((name) => name in privacy)).toBe(true);
    expect('clipL2' in accountant).toBe(false);
  });

  it('DEFAULT_RDP_ORDERS is Opacus’s grid: 1.1 … 10.9 by 0.1, then 12 … 63, frozen', () => {
    const orders = privacy.DEFAULT_RDP_ORDERS;
    expect(orders[0]).toBe(1.1);
    expect(orders[28]).toBe(3.9);
    expect(orders[98]).toBe(10.9);
    expect(orders.slice(99)).toEqual(Array.from({ length: 52 }, (_, i) => 12 + i));
    expect(Object.isFrozen(orders)).toBe(true);
  });
});
