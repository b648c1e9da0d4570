import { describe, expect, it } from 'vitest';
import {
  assertFinite,
  assertSameLayout,
  assertValidLayout,
  decodeFloat32,
  encodeFloat32,
  findNonFinite,
  layoutOffsets,
  layoutSize,
} from '../src/weights.js';

const layout = [
  { name: 'dense/kernel', shape: [3, 2] },
  { name: 'dense/bias', shape: [2] },
];

describe('weight codec', () => {
  it('computes sizes and offsets', () => {
    expect(layoutSize(layout)).toBe(8);
    expect(layoutOffsets(layout)).toEqual([0, 6, 8]);
  });

  it('encodes little-endian float32 and decodes it back', () => {
    const values = new Float32Array([1, -2.5, 3.25, 0, 1e-8, -0, 7, 8]);
    const bytes = encodeFloat32(values);
    expect(bytes.byteLength).toBe(32);
    // 1.0f is 0x3f800000: little-endian bytes 00 00 80 3f.
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x00, 0x00, 0x80, 0x3f]);
    expect(decodeFloat32(bytes, layout)).toEqual(values);
  });

  it('decodes unaligned bytes by copying', () => {
    const values = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const padded = new Uint8Array(33);
    padded.set(encodeFloat32(values), 1);
    expect(decodeFloat32(padded.subarray(1), layout)).toEqual(values);
  });

  it('names expected and actual byte lengths on a size mismatch', () => {
    expect(() => decodeFloat32(new Uint8Array(28), layout)).toThrow('update has 28 bytes, expected 32 (8 float32 values)');
  });

  it('names the first differing tensor on a layout mismatch', () => {
    expect(() => assertSameLayout(layout, [layout[0]!])).toThrow('update has 1 tensors, the model has 2');
    expect(() => assertSameLayout(layout, [layout[0]!, { name: 'dense/bias', shape: [3] }])).toThrow(
      'update tensor 1 is "dense/bias" [3], the model expects "dense/bias" [2]',
    );
  });

  it('names the tensor holding a NaN or Infinity', () => {
    const values = new Float32Array(8);
    values[7] = Number.POSITIVE_INFINITY;
    expect(() => assertFinite(values, layout)).toThrow('update tensor "dense/bias" holds Infinity at flat index 7');
    values[7] = 0;
    values[2] = Number.NaN;
    expect(() => assertFinite(values, layout)).toThrow(/"dense\/kernel" holds NaN/);
  });

  it('finds the first non-finite value at every position of the unrolled blocks', () => {
    for (const length of [0, 1, 7, 8, 9, 16, 23]) {
      const values = new Float32Array(length).fill(1.5);
      expect(findNonFinite(values)).toBe(-1);
      for (let at = 0; at < length; at++) {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const copy = values.slice();
          copy[at] = bad;
          if (at + 1 < length) copy[length - 1] = Number.NaN;
          expect(findNonFinite(copy)).toBe(at);
        }
      }
    }
  });

  it('rejects duplicate names and bad dimensions', () => {
    expect(() => assertValidLayout([layout[0]!, layout[0]!])).toThrow(/appears twice/);
    expect(() => assertValidLayout([{ name: 'x', shape: [1.5] }])).toThrow(/invalid dimension/);
  });
});
