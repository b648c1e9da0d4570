/**
 * The in-memory form of a client's local data: one flat Float32Array of features plus
 * class labels. The training engine, partitioners and loaders (MNIST in Node, files or
 * canvases in browsers) all meet at this type, so it stays a plain object of typed
 * arrays that costs nothing to build, slice or transfer to a worker.
 */

import { FedkitError, randomInt, type RandomSource } from '@fedkit/protocol';

import { sampleStandardNormal } from './distributions.js';

/**
 * A labelled classification dataset held in memory. Example `i` occupies
 * `x[i * size .. (i + 1) * size)` where `size` is the product of `xShape`.
 */
export interface LocalDataset {
  /** Features of all examples, row-major, one example after another. */
  x: Float32Array;
  /** Shape of one example, e.g. `[784]` or `[28, 28, 1]`. */
  xShape: number[];
  /** Class labels in `[0, numClasses)`, one per example. */
  y: Uint8Array | Int32Array;
  /** Number of classes the model predicts (labels may not cover all of them). */
  numClasses: number;
  /** Number of examples. */
  length: number;
}

/** Number of floats in one example: the product of `xShape`. */
export function exampleSize(xShape: readonly number[]): number {
  return xShape.reduce((a, b) => a * b, 1);
}

function invalid(field: string, expected: string, got: string): FedkitError {
  return new FedkitError('data-invalid', `dataset ${field}: expected ${expected}, got ${got}`, { field });
}

/**
 * Checks that a dataset is internally consistent: shapes agree, every feature is finite
 * and every label lies in `[0, numClasses)`. Throws `FedkitError('data-invalid')` naming
 * the first bad field; returns the dataset for chaining.
 */
export function validateDataset(ds: LocalDataset): LocalDataset {
  if (!Number.isInteger(ds.length) || ds.length < 0) {
    throw invalid('length', 'an integer ≥ 0', String(ds.length));
  }
  if (!Array.isArray(ds.xShape) || ds.xShape.length === 0 || !ds.xShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw invalid('xShape', 'a non-empty array of positive integers (one example, e.g. [784])', JSON.stringify(ds.xShape));
  }
  if (!Number.isInteger(ds.numClasses) || ds.numClasses < 1) {
    throw invalid('numClasses', 'an integer ≥ 1', String(ds.numClasses));
  }
  if (!(ds.x instanceof Float32Array)) throw invalid('x', 'a Float32Array', describeType(ds.x));
  const size = exampleSize(ds.xShape);
  if (ds.x.length !== ds.length * size) {
    throw invalid('x', `length × [${ds.xShape.join(', ')}] = ${ds.length} × ${size} = ${ds.length * size} floats`, `${ds.x.length}`);
  }
  if (!(ds.y instanceof Uint8Array || ds.y instanceof Int32Array)) {
    throw invalid('y', 'a Uint8Array or Int32Array of class labels', describeType(ds.y));
  }
  if (ds.y.length !== ds.length) throw invalid('y', `${ds.length} labels (one per example)`, `${ds.y.length}`);
  for (let i = 0; i < ds.y.length; i++) {
    const label = ds.y[i]!;
    if (label < 0 || label >= ds.numClasses) {
      throw invalid(`y[${i}]`, `a label in [0, ${ds.numClasses}) (numClasses ${ds.numClasses})`, String(label));
    }
  }
  for (let i = 0; i < ds.x.length; i++) {
    if (!Number.isFinite(ds.x[i]!)) {
      throw invalid(`x[${i}]`, `finite features (example ${Math.floor(i / size)})`, String(ds.x[i]));
    }
  }
  return ds;
}

function describeType(value: unknown): string {
  if (value === null || typeof value !== 'object') return typeof value;
  return value.constructor?.name ?? 'object';
}

/**
 * A new dataset holding copies of the rows at `indices`, in that order (repeats allowed,
 * e.g. for bootstrap samples). The input is not modified and shares no memory with the
 * result. Throws RangeError for an index outside `[0, ds.length)`.
 */
export function subsetDataset(ds: LocalDataset, indices: ArrayLike<number>): LocalDataset {
  const size = exampleSize(ds.xShape);
  const n = indices.length;
  const x = new Float32Array(n * size);
  const y = ds.y instanceof Uint8Array ? new Uint8Array(n) : new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const i = indices[j]!;
    if (!Number.isInteger(i) || i < 0 || i >= ds.length) {
      throw new RangeError(`subset index ${j} is ${i}, expected an integer in [0, ${ds.length})`);
    }
    x.set(ds.x.subarray(i * size, (i + 1) * size), j * size);
    y[j] = ds.y[i]!;
  }
  return { x, xShape: ds.xShape.slice(), y, numClasses: ds.numClasses, length: n };
}

/** Options of {@link syntheticDataset}. */
export interface SyntheticDatasetOptions {
  numExamples: number;
  numFeatures: number;
  numClasses: number;
  /** Source of every draw; a seeded one gives the same dataset each time. */
  random: RandomSource;
  /** Standard deviation of each coordinate of the class centres. @default 1 */
  centerStddev?: number;
  /** Standard deviation of the per-example Gaussian noise around its centre. @default 1 */
  noiseStddev?: number;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new FedkitError('config-invalid', `syntheticDataset ${name} must be an integer ≥ 1, got ${value}`, { field: name });
  }
}

function nonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new FedkitError('config-invalid', `syntheticDataset ${name} must be a finite number ≥ 0, got ${value}`, { field: name });
  }
}

/**
 * A small learnable classification problem for fast tests: Gaussian blobs, one per class.
 * Each class gets a random centre (coordinates ~ N(0, centerStddev²)); labels are balanced
 * (counts differ by at most one) in random order; each example is its class centre plus
 * N(0, noiseStddev²) noise per feature. With the defaults and 20 features, a
 * nearest-centroid classifier is right on well over 90% of examples.
 *
 * @example
 * const ds = syntheticDataset({ numExamples: 500, numFeatures: 20, numClasses: 4, random: seededRandomSource(1) });
 */
export function syntheticDataset(options: SyntheticDatasetOptions): LocalDataset {
  const { numExamples, numFeatures, numClasses, random } = options;
  const centerStddev = options.centerStddev ?? 1;
  const noiseStddev = options.noiseStddev ?? 1;
  positiveInteger('numExamples', numExamples);
  positiveInteger('numFeatures', numFeatures);
  positiveInteger('numClasses', numClasses);
  nonNegative('centerStddev', centerStddev);
  nonNegative('noiseStddev', noiseStddev);

  const centers = new Float64Array(numClasses * numFeatures);
  for (let i = 0; i < centers.length; i++) centers[i] = centerStddev * sampleStandardNormal(random);

  // Balanced labels, then a Fisher–Yates shuffle in place on our own array.
  const y = numClasses <= 256 ? new Uint8Array(numExamples) : new Int32Array(numExamples);
  for (let i = 0; i < numExamples; i++) y[i] = i % numClasses;
  for (let i = numExamples - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const t = y[i]!;
    y[i] = y[j]!;
    y[j] = t;
  }

  const x = new Float32Array(numExamples * numFeatures);
  for (let i = 0; i < numExamples; i++) {
    const base = y[i]! * numFeatures;
    for (let f = 0; f < numFeatures; f++) {
      x[i * numFeatures + f] = centers[base + f]! + noiseStddev * sampleStandardNormal(random);
    }
  }
  return { x, xShape: [numFeatures], y, numClasses, length: numExamples };
}
