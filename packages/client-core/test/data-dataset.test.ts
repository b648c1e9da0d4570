import { FedkitError, seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';

import { subsetDataset, syntheticDataset, validateDataset, type LocalDataset } from '../src/data/dataset.js';

function tiny(): LocalDataset {
  // 4 examples of shape [2, 3]: example i has every feature equal to i + j/10.
  const x = new Float32Array(24);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 6; j++) x[i * 6 + j] = i + j / 10;
  return { x, xShape: [2, 3], y: new Uint8Array([0, 1, 2, 1]), numClasses: 3, length: 4 };
}

function expectDataInvalid(ds: LocalDataset, field: RegExp): void {
  try {
    validateDataset(ds);
  } catch (error) {
    expect(error).toBeInstanceOf(FedkitError);
    expect((error as FedkitError).code).toBe('data-invalid');
    expect((error as FedkitError).message).toMatch(field);
    return;
  }
  throw new Error('validateDataset did not throw');
}

describe('validateDataset', () => {
  it('accepts a consistent dataset and returns it', () => {
    const ds = tiny();
    expect(validateDataset(ds)).toBe(ds);
    expect(validateDataset({ ...ds, x: new Float32Array(0), y: new Uint8Array(0), length: 0 }).length).toBe(0);
  });

  it('names the bad field and the expected shape', () => {
    expectDataInvalid({ ...tiny(), x: new Float32Array(23) }, /dataset x: expected length × \[2, 3\] = 4 × 6 = 24 floats, got 23/);
    expectDataInvalid({ ...tiny(), x: [1, 2] as unknown as Float32Array }, /dataset x: expected a Float32Array, got Array/);
    expectDataInvalid({ ...tiny(), xShape: [2, 0] }, /dataset xShape: .*positive integers/);
    expectDataInvalid({ ...tiny(), xShape: [] }, /dataset xShape/);
    expectDataInvalid({ ...tiny(), y: new Uint8Array(3) }, /dataset y: expected 4 labels .* got 3/);
    expectDataInvalid({ ...tiny(), y: new Float32Array(4) as unknown as Uint8Array }, /dataset y: expected a Uint8Array or Int32Array/);
    expectDataInvalid({ ...tiny(), y: new Uint8Array([0, 1, 3, 1]) }, /dataset y\[2\]: expected a label in \[0, 3\).* got 3/);
    expectDataInvalid({ ...tiny(), y: new Int32Array([0, -1, 2, 1]) }, /dataset y\[1\]/);
    expectDataInvalid({ ...tiny(), numClasses: 0 }, /dataset numClasses: expected an integer ≥ 1/);
    expectDataInvalid({ ...tiny(), length: 2.5 }, /dataset length/);
    const nan = tiny();
    nan.x[13] = Number.NaN;
    expectDataInvalid(nan, /dataset x\[13\]: expected finite features \(example 2\), got NaN/);
  });
});

describe('subsetDataset', () => {
  it('copies the selected rows in the given order, repeats allowed', () => {
    const ds = tiny();
    const sub = subsetDataset(ds, [3, 0, 3]);
    expect(sub.length).toBe(3);
    expect(sub.xShape).toEqual([2, 3]);
    expect(sub.numClasses).toBe(3);
    expect(Array.from(sub.y)).toEqual([1, 0, 1]);
    expect(sub.y).toBeInstanceOf(Uint8Array);
    expect(Array.from(sub.x.subarray(0, 6))).toEqual(Array.from(ds.x.subarray(18, 24)));
    expect(Array.from(sub.x.subarray(6, 12))).toEqual(Array.from(ds.x.subarray(0, 6)));
    expect(validateDataset(sub)).toBe(sub);
  });

  it('shares no memory with the input and leaves it unchanged', () => {
    const ds = tiny();
    const before = { x: ds.x.slice(), y: ds.y.slice(), xShape: ds.xShape.slice() };
    const sub = subsetDataset(ds, [1, 2]);
    sub.x.fill(-1);
    sub.y.fill(0);
    sub.xShape[0] = 99;
    expect(ds.x).toEqual(before.x);
    expect(ds.y).toEqual(before.y);
    expect(ds.xShape).toEqual(before.xShape);
  });

  it('keeps Int32Array labels as Int32Array and allows an empty subset', () => {
    const ds = { ...tiny(), y: new Int32Array([0, 1, 2, 1]) };
    expect(subsetDataset(ds, [2]).y).toBeInstanceOf(Int32Array);
    expect(subsetDataset(ds, []).length).toBe(0);
  });

  it('throws RangeError for an index outside the dataset', () => {
    expect(() => subsetDataset(tiny(), [0, 4])).toThrow(/subset index 1 is 4, expected an integer in \[0, 4\)/);
    expect(() => subsetDataset(tiny(), [-1])).toThrow(RangeError);
    expect(() => subsetDataset(tiny(), [1.5])).toThrow(RangeError);
  });
});

describe('syntheticDataset', () => {
  const options = { numExamples: 600, numFeatures: 20, numClasses: 4 };

  it('is valid, balanced and has the requested shape', () => {
    const ds = syntheticDataset({ ...options, random: seededRandomSource(1) });
    expect(validateDataset(ds)).toBe(ds);
    expect(ds.xShape).toEqual([20]);
    expect(ds.length).toBe(600);
    const counts = [0, 0, 0, 0];
    for (const label of ds.y) counts[label]!++;
    expect(counts).toEqual([150, 150, 150, 150]);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = syntheticDataset({ ...options, random: seededRandomSource(5) });
    const b = syntheticDataset({ ...options, random: seededRandomSource(5) });
    const c = syntheticDataset({ ...options, random: seededRandomSource(6) });
    expect(b.x).toEqual(a.x);
    expect(b.y).toEqual(a.y);
    expect(c.x).not.toEqual(a.x);
  });

  it('is learnable: nearest centroid fitted on 500 examples classifies the other 100 at > 90%', () => {
    const ds = syntheticDataset({ ...options, random: seededRandomSource(2) });
    const d = options.numFeatures;
    const sums = new Float64Array(options.numClasses * d);
    const counts = new Array<number>(options.numClasses).fill(0);
    for (let i = 0; i < 500; i++) {
      counts[ds.y[i]!]!++;
      for (let f = 0; f < d; f++) sums[ds.y[i]! * d + f]! += ds.x[i * d + f]!;
    }
    let correct = 0;
    for (let i = 500; i < 600; i++) {
      let best = -1;
      let bestDistance = Infinity;
      for (let c = 0; c < options.numClasses; c++) {
        let distance = 0;
        for (let f = 0; f < d; f++) distance += (ds.x[i * d + f]! - sums[c * d + f]! / counts[c]!) ** 2;
        if (distance < bestDistance) [best, bestDistance] = [c, distance];
      }
      if (best === ds.y[i]) correct++;
    }
    expect(correct).toBeGreaterThan(90);
  });

  it('has noise of the requested standard deviation around each class mean (large sample)', () => {
    const ds = syntheticDataset({ numExamples: 20_000, numFeatures: 2, numClasses: 2, noiseStddev: 0.5, random: seededRandomSource(3) });
    // Pooled within-class variance of 40,000 coordinates; its standard error is
    // sqrt(2 σ⁴ / 40,000) ≈ 0.0018 for σ² = 0.25, so 0.01 is over 5 standard errors.
    const mean = new Float64Array(4);
    const n = [0, 0];
    for (let i = 0; i < ds.length; i++) {
      n[ds.y[i]!]!++;
      for (let f = 0; f < 2; f++) mean[ds.y[i]! * 2 + f]! += ds.x[i * 2 + f]!;
    }
    for (let k = 0; k < 4; k++) mean[k]! /= n[k >> 1]!;
    let ss = 0;
    for (let i = 0; i < ds.length; i++) for (let f = 0; f < 2; f++) ss += (ds.x[i * 2 + f]! - mean[ds.y[i]! * 2 + f]!) ** 2;
    expect(Math.abs(ss / (ds.length * 2) - 0.25)).toBeLessThan(0.01);
  });

  it('rejects bad options with config-invalid naming the option', () => {
    const random = seededRandomSource(1);
    expect(() => syntheticDataset({ ...options, numExamples: 0, random })).toThrow(/numExamples must be an integer ≥ 1, got 0/);
    expect(() => syntheticDataset({ ...options, numFeatures: 1.5, random })).toThrow(/numFeatures/);
    expect(() => syntheticDataset({ ...options, numClasses: -2, random })).toThrow(/numClasses/);
    expect(() => syntheticDataset({ ...options, noiseStddev: -1, random })).toThrow(/noiseStddev must be a finite number ≥ 0/);
    expect(() => syntheticDataset({ ...options, centerStddev: Number.NaN, random })).toThrow(FedkitError);
  });
});
