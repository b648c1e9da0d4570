/**
 * Local data for a browser client, in the forms apps have it: typed arrays, a `tf.data`
 * dataset, or any async iterator of examples. Everything becomes one `LocalDataset` (flat
 * Float32Array + labels) on the app's side, so it can be transferred to the training worker
 * without a copy, and it is checked here, before any connection or training: a wrong shape
 * fails at once with the expected shape in the message.
 */
import { validateDataset, type LocalDataset } from '@fedkit/client-core';
import { FedkitError } from '@fedkit/protocol';

/** Features and labels as typed arrays. `x` holds `length × product(xShape)` values. */
export interface ArrayData {
  x: Float32Array | Uint8Array | Uint8ClampedArray | ArrayLike<number>;
  /** Class labels, one per example. */
  y: Uint8Array | Int32Array | ArrayLike<number>;
  /** Shape of one example, e.g. [784]. */
  xShape: number[];
  numClasses: number;
  /** Multiply every feature by this (e.g. 1/255 for image bytes). @default 1 */
  scale?: number;
}

/** Anything with tensor data: a tfjs Tensor (`dataSync` + `shape`) or a plain array. */
type TensorLike = { dataSync(): ArrayLike<number>; shape: number[]; dispose?(): void } | ArrayLike<number>;

/** One example from an iterator or dataset: features, and a label (class index or one-hot). */
export interface Example {
  xs: TensorLike;
  ys: number | TensorLike;
}

/** `tf.data.Dataset` (duck-typed, so the SDK need not bundle tfjs-data). */
export interface TfDatasetLike {
  iterator(): Promise<{ next(): Promise<IteratorResult<Example>> }>;
}

export type WebDataSource = LocalDataset | ArrayData | TfDatasetLike | AsyncIterable<Example> | Iterable<Example>;

/** What the data must look like; known when the app passes it, else checked on join. */
export interface ExpectedShape {
  xShape: number[];
  numClasses: number;
}

function isTensor(value: unknown): value is { dataSync(): ArrayLike<number>; shape: number[]; dispose?(): void } {
  return typeof value === 'object' && value !== null && typeof (value as { dataSync?: unknown }).dataSync === 'function';
}

function values(value: TensorLike): ArrayLike<number> {
  return isTensor(value) ? value.dataSync() : value;
}

function shapeOf(value: TensorLike): number[] {
  return isTensor(value) ? value.shape : [value.length];
}

function fromArrays(data: ArrayData): LocalDataset {
  const size = data.xShape.reduce((a, b) => a * b, 1);
  const length = size > 0 ? Math.floor(data.x.length / size) : 0;
  const scale = data.scale ?? 1;
  const x = data.x instanceof Float32Array && scale === 1 ? data.x : Float32Array.from(data.x as ArrayLike<number>, (v) => v * scale);
  const y = data.y instanceof Uint8Array || data.y instanceof Int32Array ? data.y : Int32Array.from(data.y);
  if (x.length !== length * size) {
    throw new FedkitError('data-invalid', `dataset x: expected a multiple of [${data.xShape.join(', ')}] = ${size} values per example, got ${x.length} values`, { field: 'x' });
  }
  return validateDataset({ x, y, xShape: [...data.xShape], numClasses: data.numClasses, length });
}

function labelOf(ys: number | TensorLike, index: number): number {
  if (typeof ys === 'number') return ys;
  const v = values(ys);
  if (v.length === 1) return v[0]!;
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  if (v[best] !== 1) throw new FedkitError('data-invalid', `example ${index}: ys must be a class index or a one-hot vector`, { field: 'y' });
  return best;
}

async function fromExamples(iterator: AsyncIterator<Example> | Iterator<Example>, expected: ExpectedShape | undefined): Promise<LocalDataset> {
  const rows: ArrayLike<number>[] = [];
  const labels: number[] = [];
  let xShape: number[] | null = expected?.xShape ?? null;
  let numClasses = expected?.numClasses ?? 0;
  for (let result = await iterator.next(); result.done !== true; result = await iterator.next()) {
    const { xs, ys } = result.value;
    const shape = shapeOf(xs);
    xShape ??= shape;
    if (shape.join(',') !== xShape.join(',')) {
      throw new FedkitError('data-invalid', `example ${rows.length} has shape [${shape.join(', ')}], expected [${xShape.join(', ')}]`, { field: 'x', expectedShape: xShape });
    }
    rows.push(Float32Array.from(values(xs)));
    labels.push(labelOf(ys, rows.length - 1));
    if (expected === undefined && typeof ys !== 'number') numClasses = Math.max(numClasses, values(ys).length);
    if (isTensor(xs)) xs.dispose?.();
    if (typeof ys !== 'number' && isTensor(ys)) ys.dispose?.();
  }
  if (xShape === null) throw new FedkitError('data-invalid', 'the data source yielded no examples', { field: 'length' });
  if (numClasses === 0) numClasses = Math.max(...labels) + 1;
  const size = xShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(rows.length * size);
  rows.forEach((row, i) => x.set(row, i * size));
  return validateDataset({ x, y: Int32Array.from(labels), xShape, numClasses, length: rows.length });
}

/**
 * Turns any supported data source into a checked LocalDataset. With `expected` (the model's
 * input shape and classes, when the app knows them) a mismatch is refused here, naming the
 * expected shape.
 *
 * @example
 * const train = await toLocalDataset({ x: pixels, y: labels, xShape: [784], numClasses: 10, scale: 1 / 255 });
 */
export async function toLocalDataset(source: WebDataSource, expected?: ExpectedShape): Promise<LocalDataset> {
  let data: LocalDataset;
  if (typeof (source as TfDatasetLike).iterator === 'function') data = await fromExamples(await (source as TfDatasetLike).iterator(), expected);
  else if (typeof (source as AsyncIterable<Example>)[Symbol.asyncIterator] === 'function') data = await fromExamples((source as AsyncIterable<Example>)[Symbol.asyncIterator](), expected);
  else if (typeof (source as Iterable<Example>)[Symbol.iterator] === 'function') data = await fromExamples((source as Iterable<Example>)[Symbol.iterator](), expected);
  else if ('length' in source && source.x instanceof Float32Array && (source as LocalDataset).length === (source as LocalDataset).y.length) data = validateDataset(source as LocalDataset);
  else data = fromArrays(source as ArrayData);
  if (expected !== undefined) assertShape(data, expected);
  return data;
}

/** Throws `data-invalid` naming the expected shape when `data` does not match it. */
export function assertShape(data: LocalDataset, expected: ExpectedShape): void {
  const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
  const same = data.xShape.join(',') === expected.xShape.join(',') || (data.xShape.length === 1 && data.xShape[0] === size(expected.xShape));
  if (!same) {
    throw new FedkitError('data-invalid', `examples have shape [${data.xShape.join(', ')}], the model expects [${expected.xShape.join(', ')}]`, { expectedShape: expected.xShape, xShape: data.xShape });
  }
  if (data.numClasses !== expected.numClasses) {
    throw new FedkitError('data-invalid', `dataset has ${data.numClasses} classes, the model expects ${expected.numClasses}`, { expectedShape: expected.xShape });
  }
}
