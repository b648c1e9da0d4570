import { FedkitError, seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import {
  decodeWeightedSum,
  DEFAULT_QUANTIZATION,
  encodeWeightedUpdate,
  quantizeWeight,
  stochasticQuantize,
  validateQuantization,
  type QuantizationParams,
} from '../src/secagg/quantize.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof FedkitError ? error.code : `not coded: ${String(error)}`;
  }
  return undefined;
}

const coarse: QuantizationParams = { ...DEFAULT_QUANTIZATION, quantizationRange: 256 };

describe('stochastic quantization', () => {
  it('uses Flower SecAgg+ defaults', () => {
    expect(DEFAULT_QUANTIZATION).toEqual({ clippingRange: 8, quantizationRange: 2 ** 22, modulusBits: 32, maxWeight: 1000 });
  });

  for (const params of [coarse, DEFAULT_QUANTIZATION]) {
    it(`is unbiased (L = ${params.quantizationRange}): mean error within 5 standard errors over 200,000 draws`, () => {
      // For a value at fraction f between two levels the rounding error has variance
      // step²·f(1 − f) ≤ step²/4, so the mean of n errors has standard error ≤ step/(2√n).
      const n = 200_000;
      const c = params.clippingRange;
      const step = (2 * c) / (params.quantizationRange - 1);
      const random = seededRandomSource(11);
      for (const x of [-7.3, -0.123456, 0, 0.0314, 3.14159, 7.999]) {
        const values = new Float32Array(n).fill(x);
        const out = new Uint32Array(n);
        stochasticQuantize(values, 1, params, random, out);
        let sum = 0;
        let worst = 0;
        for (const q of out) {
          const error = q * step - c - Math.fround(x);
          worst = Math.max(worst, Math.abs(error));
          sum += error;
        }
        expect(worst).toBeLessThan(step);
        expect(Math.abs(sum / n)).toBeLessThan((5 * step) / (2 * Math.sqrt(n)));
      }
    });
  }

  it('maps ±c to the end levels and stays in [0, L − 1]', () => {
    const out = new Uint32Array(2);
    stochasticQuantize(new Float32Array([-8, 8]), 1, DEFAULT_QUANTIZATION, seededRandomSource(1), out);
    expect([...out]).toEqual([0, 2 ** 22 - 1]);
  });

  it('rejects values outside the clipping range with secagg-value-out-of-range, or clips on request', () => {
    const out = new Uint32Array(1);
    const random = seededRandomSource(2);
    expect(codeOf(() => stochasticQuantize(new Float32Array([8.5]), 1, DEFAULT_QUANTIZATION, random, out))).toBe('secagg-value-out-of-range');
    expect(codeOf(() => stochasticQuantize(new Float32Array([-9]), 1, DEFAULT_QUANTIZATION, random, out))).toBe('secagg-value-out-of-range');
    expect(codeOf(() => stochasticQuantize(new Float32Array([NaN]), 1, DEFAULT_QUANTIZATION, random, out))).toBe('update-not-finite');
    expect(codeOf(() => stochasticQuantize(new Float32Array([Infinity]), 1, DEFAULT_QUANTIZATION, random, out))).toBe('update-not-finite');
    stochasticQuantize(new Float32Array([9]), 1, DEFAULT_QUANTIZATION, random, out, 0, 'clip');
    expect(out[0]).toBe(2 ** 22 - 1);
    // The range applies to the weighted value r·Δ: 9 at half weight is 4.5, inside.
    expect(codeOf(() => stochasticQuantize(new Float32Array([9]), 0.5, DEFAULT_QUANTIZATION, random, out))).toBeUndefined();
  });
});

describe('weights', () => {
  it('caps a weight above maxWeight and says so', () => {
    expect(quantizeWeight(5000, DEFAULT_QUANTIZATION)).toEqual({ quantized: 2 ** 22 - 1, relative: 1, capped: true });
    expect(quantizeWeight(1000, DEFAULT_QUANTIZATION).capped).toBe(false);
    const half = quantizeWeight(500, DEFAULT_QUANTIZATION);
    expect(Math.abs(half.relative - 0.5)).toBeLessThanOrEqual(0.5 / (2 ** 22 - 1));
    expect(half.capped).toBe(false);
  });

  it('refuses negative or non-finite weights', () => {
    expect(() => quantizeWeight(-1, DEFAULT_QUANTIZATION)).toThrow(RangeError);
    expect(() => quantizeWeight(NaN, DEFAULT_QUANTIZATION)).toThrow(RangeError);
    expect(() => quantizeWeight('3' as unknown as number, DEFAULT_QUANTIZATION)).toThrow(TypeError);
  });
});

describe('encode and decode of a weighted sum', () => {
  it('the decoded sum of 50 encoded updates is the weighted mean within m·step / Σr', () => {
    const random = seededRandomSource(3);
    const m = 50;
    const length = 1000;
    const sum = new Uint32Array(length + 1);
    const weightedSum = new Float64Array(length);
    let weightTotal = 0;
    for (let i = 0; i < m; i++) {
      const update = Float32Array.from({ length }, () => (random.nextFloat() - 0.5) * 4);
      const { words, weight } = encodeWeightedUpdate(update, 1 + random.nextFloat() * 1500, DEFAULT_QUANTIZATION, random);
      for (let j = 0; j <= length; j++) sum[j] = sum[j]! + words[j]!;
      for (let j = 0; j < length; j++) weightedSum[j] = weightedSum[j]! + weight.relative * update[j]!;
      weightTotal += weight.relative;
    }
    const { weightedMean, totalWeight } = decodeWeightedSum(sum, m, DEFAULT_QUANTIZATION);
    expect(totalWeight).toBeCloseTo(weightTotal * 1000, 6);
    const tolerance = (m * 16) / (2 ** 22 - 1) / weightTotal;
    let worst = 0;
    for (let j = 0; j < length; j++) worst = Math.max(worst, Math.abs(weightedMean[j]! - weightedSum[j]! / weightTotal));
    expect(worst).toBeLessThan(tolerance);
  });

  it('refuses an out-of-range sum (secagg-value-out-of-range) and a zero total weight (data-invalid)', () => {
    const top = 2 ** 22 - 1;
    expect(codeOf(() => decodeWeightedSum(Uint32Array.of(top, 2 * top + 1), 2, DEFAULT_QUANTIZATION))).toBe('secagg-value-out-of-range');
    expect(codeOf(() => decodeWeightedSum(Uint32Array.of(0, 5), 2, DEFAULT_QUANTIZATION))).toBe('data-invalid');
  });

  it('validates the parameters: the sum of all clients must stay below the modulus', () => {
    expect(codeOf(() => validateQuantization(DEFAULT_QUANTIZATION, 1024))).toBeUndefined();
    expect(codeOf(() => validateQuantization(DEFAULT_QUANTIZATION, 1025))).toBe('config-invalid');
    expect(codeOf(() => validateQuantization({ ...DEFAULT_QUANTIZATION, modulusBits: 22 }, 2))).toBe('config-invalid');
    expect(codeOf(() => validateQuantization({ ...DEFAULT_QUANTIZATION, modulusBits: 33 }, 2))).toBe('config-invalid');
    expect(codeOf(() => validateQuantization({ ...DEFAULT_QUANTIZATION, clippingRange: 0 }, 2))).toBe('config-invalid');
    expect(codeOf(() => validateQuantization({ ...DEFAULT_QUANTIZATION, maxWeight: -1 }, 2))).toBe('config-invalid');
  });
});
