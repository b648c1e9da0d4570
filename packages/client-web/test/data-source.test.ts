/**
 * toLocalDataset turns every data form the browser SDK accepts — typed arrays, a
 * LocalDataset, a real tf.data dataset, (async) iterators — into one checked LocalDataset,
 * and refuses data that does not fit the expected shape, naming it. Platform-neutral, so it
 * runs in Node with the real tfjs-data.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfd from '@tensorflow/tfjs-data';
import { beforeAll, describe, expect, it } from 'vitest';
import { FedkitError } from '@fedkit/protocol';
import { assertShape, toLocalDataset, type Example } from '../src/data-source.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const EXPECTED = { xShape: [4], numClasses: 3 };

function examples(): Example[] {
  return [
    { xs: [0, 1, 2, 3], ys: 2 },
    { xs: [4, 5, 6, 7], ys: [1, 0, 0] },
  ];
}

describe('toLocalDataset', () => {
  it('takes typed arrays, scaling bytes and widening labels', async () => {
    const data = await toLocalDataset({ x: new Uint8Array([0, 255, 51, 102]), y: [1, 0], xShape: [2], numClasses: 2, scale: 1 / 255 });
    expect(data.length).toBe(2);
    expect(Array.from(data.x)).toEqual([0, 1, 0.2, 0.4].map((v) => Math.fround(v)));
    expect(Array.from(data.y)).toEqual([1, 0]);
  });

  it('passes a valid LocalDataset through unchanged', async () => {
    const ds = { x: new Float32Array(8), xShape: [4], y: new Uint8Array([0, 2]), numClasses: 3, length: 2 };
    expect(await toLocalDataset(ds, EXPECTED)).toBe(ds);
  });

  it('reads a tf.data dataset of tensors (labels as one-hot tensors), disposing them', async () => {
    const xs = tf.tensor2d([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
    const ys = tf.oneHot(tf.tensor1d([2, 0, 1], 'int32'), 3);
    const dataset = tfd.zip({ xs: tfd.array(tf.unstack(xs)), ys: tfd.array(tf.unstack(ys)) });
    const before = tf.memory().numTensors;
    const data = await toLocalDataset(dataset as never, EXPECTED);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    expect(data.length).toBe(3);
    expect(Array.from(data.y)).toEqual([2, 0, 1]);
    expect(Array.from(data.x.subarray(4, 8))).toEqual([4, 5, 6, 7]);
  });

  it('reads async and sync iterators of plain examples', async () => {
    async function* stream(): AsyncGenerator<Example> {
      yield* examples();
    }
    const fromAsync = await toLocalDataset(stream(), EXPECTED);
    const fromSync = await toLocalDataset(examples(), EXPECTED);
    for (const data of [fromAsync, fromSync]) {
      expect(Array.from(data.y)).toEqual([2, 0]);
      expect(data.xShape).toEqual([4]);
      expect(data.numClasses).toBe(3);
    }
  });

  it('refuses examples whose shape changes, naming the expected one', async () => {
    const bad: Example[] = [...examples(), { xs: [1, 2, 3], ys: 0 }];
    await expect(toLocalDataset(bad)).rejects.toThrow('example 2 has shape [3], expected [4]');
  });

  it('refuses data that does not fit the expected shape before anything else happens', async () => {
    const error = await toLocalDataset({ x: new Float32Array(10), y: new Uint8Array(2), xShape: [5], numClasses: 3 }, EXPECTED).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FedkitError);
    expect((error as FedkitError).code).toBe('data-invalid');
    expect((error as FedkitError).message).toBe('examples have shape [5], the model expects [4]');
    expect(() => assertShape({ x: new Float32Array(4), xShape: [4], y: new Uint8Array(1), numClasses: 2, length: 1 }, EXPECTED)).toThrow(
      'dataset has 2 classes, the model expects 3',
    );
  });

  it('refuses inconsistent typed arrays, labels out of range and empty sources', async () => {
    await expect(toLocalDataset({ x: new Float32Array(7), y: new Uint8Array(2), xShape: [4], numClasses: 3 })).rejects.toThrow(/expected a multiple of \[4\]/);
    await expect(toLocalDataset({ x: new Float32Array(8), y: new Uint8Array([0, 9]), xShape: [4], numClasses: 3 })).rejects.toThrow(FedkitError);
    await expect(toLocalDataset([] as Example[])).rejects.toThrow('the data source yielded no examples');
    await expect(toLocalDataset([{ xs: [1], ys: [0.5, 0.5] }])).rejects.toThrow('ys must be a class index or a one-hot vector');
  });

  it('accepts a flat example for a multi-dimensional model input', () => {
    expect(() => assertShape({ x: new Float32Array(4), xShape: [4], y: new Uint8Array(1), numClasses: 3, length: 1 }, { xShape: [2, 2], numClasses: 3 })).not.toThrow();
  });
});
