/**
 * What the engine does with a `LocalDataset` before any tensor exists: check it fits the
 * model, order it, and cut it into batches. Validation happens once, before training
 * starts, so a shape mistake fails fast with a message naming the expected shape instead
 * of deep inside tfjs after the first batch.
 */
import { FedkitError, randomInt } from '@fedkit/protocol';
import type { RandomSource } from '@fedkit/protocol';
import { validateDataset } from '../data/dataset.js';
import type { LocalDataset } from '../data/dataset.js';

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function withoutOnes(shape: readonly number[]): number[] {
  return shape.filter((d) => d !== 1);
}

/**
 * Whether examples of shape `dataShape` can feed a model whose input is `modelShape`.
 * Accepted: equal shapes; shapes equal once size-1 dimensions are dropped (`[28, 28]` for
 * `[28, 28, 1]`); and a flat vector of the same size on either side (`[784]` for
 * `[28, 28, 1]`), read row-major, which is how MNIST files and NHWC tensors lay out pixels.
 */
export function isCompatibleShape(dataShape: readonly number[], modelShape: readonly number[]): boolean {
  if (product(dataShape) !== product(modelShape)) return false;
  if (dataShape.length === 1 || modelShape.length === 1) return true;
  const a = withoutOnes(dataShape);
  const b = withoutOnes(modelShape);
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks a dataset is consistent (`validateDataset`), non-empty and fits a model with
 * per-example input `inputShape` and `numClasses` outputs. Throws `data-invalid` naming the
 * expected shape or count.
 */
export function assertDatasetFitsModel(data: LocalDataset, inputShape: readonly number[], numClasses: number): void {
  validateDataset(data);
  const fail = (message: string): never => {
    throw new FedkitError('data-invalid', message, { expectedShape: [...inputShape], xShape: data.xShape });
  };
  if (data.length < 1) fail('dataset holds no examples');
  if (!isCompatibleShape(data.xShape, inputShape)) {
    fail(`examples have shape [${data.xShape.join(',')}], the model expects [${inputShape.join(',')}] (or a flat [${product(inputShape)}])`);
  }
  if (data.numClasses !== numClasses) fail(`dataset has ${data.numClasses} classes, the model outputs ${numClasses}`);
}

/** A permutation of `0..n-1`: shuffled with `random`, or in order when `random` is null. */
export function exampleOrder(n: number, random: RandomSource | null): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (random === null) return order;
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

/** One batch as fresh arrays: features and one-hot labels. */
export interface Batch {
  x: Float32Array;
  oneHot: Float32Array;
  size: number;
}

/** Copies examples `order[start..end)` into a new batch (fresh arrays: tfjs cpu keeps references). */
export function gatherBatch(data: LocalDataset, order: Uint32Array, start: number, end: number): Batch {
  const size = end - start;
  const exampleSize = data.x.length / data.length;
  const x = new Float32Array(size * exampleSize);
  const oneHot = new Float32Array(size * data.numClasses);
  for (let i = 0; i < size; i++) {
    const e = order[start + i]!;
    x.set(data.x.subarray(e * exampleSize, (e + 1) * exampleSize), i * exampleSize);
    oneHot[i * data.numClasses + data.y[e]!] = 1;
  }
  return { x, oneHot, size };
}
