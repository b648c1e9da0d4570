import { seededRandomSource } from '@fedkit/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { wasmSimdAvailable, weightedAccumulateJs } from '../src/kernels/weighted-accumulate.js';
import { createWeightedSum, type WeightedSum } from '../src/kernels/weighted-sum.js';

// Lengths around the 4- and 16-float vector steps and around the 131072-float copy chunk.
const LENGTHS = [0, 1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 33, 64, 65, 1001, 131071, 131072, 131077, 300003];

function randomVector(seed: number, length: number, scale: number): Float32Array {
  const random = seededRandomSource(seed);
  return Float32Array.from({ length }, () => (random.nextFloat() * 2 - 1) * scale);
}

/** Folds the same vectors and weights into a fresh sum and returns a copy of the result. */
function fold(sum: WeightedSum, vectors: Float32Array[], weights: number[]): Float32Array {
  vectors.forEach((v, k) => sum.add(v, weights[k]!));
  const out = sum.sum().slice();
  sum.release();
  return out;
}

const WEIGHTS = [600, 1, 0.1, 37, -2.5];

/** Index of the first element whose bits differ (or -1): a fast, readable failure on big arrays. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  return x.findIndex((v, i) => v !== y[i]);
}

describe('weightedAccumulateJs', () => {
  it('computes acc + w·u rounded like float32', () => {
    const acc = Float32Array.from([1, 2, 3, 4, 5]);
    weightedAccumulateJs(acc, Float32Array.from([0.5, -1, 0, 2, 1e-3]), 3);
    expect(acc).toEqual(Float32Array.from([2.5, -1, 3, 10, Math.fround(5 + Math.fround(3 * Math.fround(1e-3)))]));
  });

  it('does nothing for length 0', () => {
    const acc = new Float32Array(0);
    expect(() => weightedAccumulateJs(acc, new Float32Array(0), 2)).not.toThrow();
  });
});

describe('createWeightedSum', () => {
  it.each(LENGTHS)('stays within float32 rounding of a float64 reference (length %i)', (length) => {
    // Prepare
    const vectors = WEIGHTS.map((_, k) => randomVector(k + 1, length, 0.05));
    const reference = new Float64Array(length);
    vectors.forEach((v, k) => v.forEach((x, i) => (reference[i]! += WEIGHTS[k]! * x)));
    // Execute
    const sum = fold(createWeightedSum(length), vectors, WEIGHTS);
    // Assert: five roundings of values below Σ|w|·0.05 ≈ 32 cost at most ~1e-5 each.
    let worst = 0;
    for (let i = 0; i < length; i++) worst = Math.max(worst, Math.abs(sum[i]! - reference[i]!));
    expect(worst).toBeLessThan(1e-4);
  });

  it.runIf(wasmSimdAvailable()).each(LENGTHS)('gives bit-identical sums with wasm SIMD and JS (length %i)', (length) => {
    const vectors = WEIGHTS.map((_, k) => randomVector(100 + k, length, 1));
    const wasm = fold(createWeightedSum(length, 'wasm-simd'), vectors, WEIGHTS);
    const js = fold(createWeightedSum(length, 'js'), vectors, WEIGHTS);
    expect(firstBitDifference(wasm, js)).toBe(-1);
  });

  it('picks wasm SIMD when available', () => {
    const sum = createWeightedSum(10);
    expect(sum.kernel).toBe(wasmSimdAvailable() ? 'wasm-simd' : 'js');
    sum.release();
  });

  it.runIf(wasmSimdAvailable())('starts from zero when it reuses a released memory', () => {
    const first = createWeightedSum(1000, 'wasm-simd');
    first.add(new Float32Array(1000).fill(1), 5);
    first.release();
    const second = createWeightedSum(900, 'wasm-simd');
    expect(second.sum()).toEqual(new Float32Array(900));
    second.release();
  });

  describe('without WebAssembly', () => {
    afterEach(() => {
      vi.unstubAllGlobals();
      vi.resetModules();
    });

    it('falls back to the JS kernel, and refuses an explicit wasm-simd request', async () => {
      // Prepare: a fresh copy of the module, which feature-detects on first use.
      vi.stubGlobal('WebAssembly', undefined);
      vi.resetModules();
      const fresh = await import('../src/kernels/weighted-sum.js');
      // Execute
      const sum = fresh.createWeightedSum(5);
      sum.add(Float32Array.from([1, 2, 3, 4, 5]), 2);
      // Assert
      expect(sum.kernel).toBe('js');
      expect(sum.sum()).toEqual(Float32Array.from([2, 4, 6, 8, 10]));
      expect(() => fresh.createWeightedSum(5, 'wasm-simd')).toThrow(expect.objectContaining({ code: 'backend-unavailable' }));
    });
  });

  it('rejects a vector of the wrong length, a non-finite weight and use after release', () => {
    const sum = createWeightedSum(4, 'js');
    expect(() => sum.add(new Float32Array(3), 1)).toThrow(RangeError);
    expect(() => sum.add(new Float32Array(4), Number.NaN)).toThrow(RangeError);
    sum.release();
    expect(() => sum.sum()).toThrow(/after release/);
  });

  it('rejects an unknown kernel and a negative length', () => {
    expect(() => createWeightedSum(4, 'gpu' as 'js')).toThrow(TypeError);
    expect(() => createWeightedSum(-1)).toThrow(RangeError);
  });
});
