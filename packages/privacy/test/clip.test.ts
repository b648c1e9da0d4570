import { FedkitError, layoutOffsets, seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { clipL2, clipL2PerLayer, l2Norm, perLayerClipNorms } from '../src/clip.js';

function randomUpdate(seed: number, length: number, scale: number): Float32Array {
  const random = seededRandomSource(seed);
  return Float32Array.from({ length }, () => (random.nextFloat() - 0.5) * scale);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot / (l2Norm(a) * l2Norm(b));
}

describe('l2Norm', () => {
  it('is the Euclidean norm', () => {
    expect(l2Norm(new Float32Array([3, 4]))).toBe(5);
    expect(l2Norm(new Float32Array(0))).toBe(0);
  });

  it('accumulates in float64: a million copies of float32(0.1) give 1000·0.1 to 1e-9', () => {
    // 1e-9 is the worst case of a float64 running sum over 1e6 terms (n·2⁻⁵³); a float32
    // accumulator stalls once the sum's ulp exceeds 0.01 and ends up percent-level wrong.
    const tenth = Math.fround(0.1);
    const values = new Float32Array(1_000_000).fill(tenth);
    expect(Math.abs(l2Norm(values) / (1000 * tenth) - 1)).toBeLessThan(1e-9);
  });

  it('does not overflow on float32 values near their maximum', () => {
    expect(l2Norm(new Float32Array([1.5e38, 2e38])) / 2.5e38).toBeCloseTo(1, 6);
  });

  it('rejects anything but a Float32Array', () => {
    expect(() => l2Norm([3, 4] as unknown as Float32Array)).toThrow(/Float32Array, got Array/);
  });
});

describe('clipL2', () => {
  it('returns an equal copy when the norm is within the clip norm', () => {
    const update = new Float32Array([0.3, -0.4]);
    const { clipped, norm } = clipL2(update, 1);
    expect(clipped).not.toBe(update);
    expect(Array.from(clipped)).toEqual(Array.from(update));
    expect(norm).toBeCloseTo(0.5, 7);
  });

  it('scales a long update onto the sphere of radius S, keeping its direction and reporting the pre-clip norm', () => {
    const update = randomUpdate(1, 10_000, 2);
    const copy = update.slice();
    const { clipped, norm } = clipL2(update, 0.5);
    expect(norm).toBe(l2Norm(copy));
    expect(l2Norm(clipped)).toBeLessThanOrEqual(0.5);
    expect(l2Norm(clipped)).toBeGreaterThan(0.5 * (1 - 1e-6));
    expect(cosine(clipped, update)).toBeGreaterThan(1 - 1e-12);
    expect(update).toEqual(copy); // input untouched
  });

  it('never returns a norm above S, whatever float32 rounding does (500 random updates)', () => {
    const random = seededRandomSource(99);
    for (let trial = 0; trial < 500; trial++) {
      const length = 1 + Math.floor(random.nextFloat() * 300);
      const update = randomUpdate(1000 + trial, length, 10 ** (random.nextFloat() * 6 - 3));
      const clipNorm = 10 ** (random.nextFloat() * 4 - 3);
      expect(l2Norm(clipL2(update, clipNorm).clipped)).toBeLessThanOrEqual(clipNorm);
    }
  });

  it('leaves a zero update alone and handles subnormal clip norms', () => {
    expect(Array.from(clipL2(new Float32Array(3), 1).clipped)).toEqual([0, 0, 0]);
    const tiny = 1e-44;
    expect(l2Norm(clipL2(new Float32Array([1, 1]), tiny).clipped)).toBeLessThanOrEqual(tiny);
  });

  it('refuses non-finite updates with update-not-finite, naming the index', () => {
    const update = new Float32Array([1, Number.NaN, 2]);
    expect(() => clipL2(update, 1)).toThrow(FedkitError);
    expect(() => clipL2(update, 1)).toThrow(/NaN at index 1/);
    expect(() => clipL2(new Float32Array([Infinity]), 1)).toThrow(/Infinity at index 0/);
  });

  it('requires a positive finite clip norm', () => {
    const update = new Float32Array([1]);
    expect(() => clipL2(update, 0)).toThrow(/clipNorm.*got 0/);
    expect(() => clipL2(update, Infinity)).toThrow(RangeError);
    expect(() => clipL2(update, Number.NaN)).toThrow(RangeError);
    expect(() => clipL2(new Float64Array(1) as unknown as Float32Array, 1)).toThrow(TypeError);
  });
});

describe('per-layer clipping', () => {
  const layout = [
    { name: 'dense/kernel', shape: [20, 10] },
    { name: 'dense/bias', shape: [10] },
    { name: 'out/kernel', shape: [10, 5] },
    { name: 'out/bias', shape: [5] },
  ];
  const offsets = layoutOffsets(layout); // [0, 200, 210, 260, 265]

  it('splits S equally as S/√L, or by size as S·√(n_l/n); both keep Σ S_l² = S²', () => {
    const equal = perLayerClipNorms(2, offsets);
    expect(equal).toEqual([1, 1, 1, 1]);
    const bySize = perLayerClipNorms(2, offsets, { kind: 'by-size' });
    expect(bySize[0]).toBeCloseTo(2 * Math.sqrt(200 / 265), 14);
    for (const norms of [equal, bySize]) {
      expect(norms.reduce((s, n) => s + n * n, 0)).toBeCloseTo(4, 12);
    }
  });

  it('clips each tensor to its own norm and the whole update to S, without touching the input', () => {
    const update = randomUpdate(5, 265, 1);
    update.subarray(210, 260).fill(0.001); // a quiet layer that must pass unchanged
    const copy = update.slice();
    const clipNorms = perLayerClipNorms(1, offsets);
    const { clipped, norms } = clipL2PerLayer(update, offsets, clipNorms);
    expect(update).toEqual(copy);
    for (let l = 0; l < 4; l++) {
      const before = copy.subarray(offsets[l], offsets[l + 1]);
      const after = clipped.subarray(offsets[l], offsets[l + 1]);
      expect(norms[l]).toBe(l2Norm(before));
      expect(l2Norm(after)).toBeLessThanOrEqual(clipNorms[l]!);
      expect(cosine(after, before)).toBeGreaterThan(1 - 1e-12);
    }
    expect(Array.from(clipped.subarray(210, 260))).toEqual(Array.from(copy.subarray(210, 260)));
    expect(l2Norm(clipped)).toBeLessThanOrEqual(1);
  });

  it('checks offsets, sizes and norms', () => {
    const update = new Float32Array(265);
    const norms = [1, 1, 1, 1];
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return error instanceof FedkitError ? error.code : (error as Error).name;
      }
      return undefined;
    };
    expect(code(() => clipL2PerLayer(new Float32Array(264), offsets, norms))).toBe('update-size-mismatch');
    expect(code(() => clipL2PerLayer(update, offsets, [1, 1]))).toBe('config-invalid');
    expect(code(() => clipL2PerLayer(update, [1, 265], [1]))).toBe('config-invalid');
    expect(code(() => clipL2PerLayer(update, [0, 300, 265], [1, 1]))).toBe('config-invalid');
    expect(code(() => clipL2PerLayer(update, [0], []))).toBe('config-invalid');
    expect(code(() => clipL2PerLayer(update, offsets, [1, 1, -1, 1]))).toBe('RangeError');
    expect(code(() => perLayerClipNorms(1, [0, 0], { kind: 'by-size' }))).toBe('config-invalid');
    expect(code(() => perLayerClipNorms(1, offsets, { kind: 'nope' } as never))).toBe('config-invalid');
    expect(() => clipL2PerLayer(new Float32Array([0, Number.NaN]), [0, 1, 2], [1, 1])).toThrow(/layer 1 has value NaN at index 1/);
  });
});
