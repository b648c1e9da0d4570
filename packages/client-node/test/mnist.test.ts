import { partition, partitionLabelCounts, subsetDataset, validateDataset, type LocalDataset } from '@fedkit/client-core';
import { FedkitError, seededRandomSource } from '@fedkit/protocol';
import { beforeAll, describe, expect, it } from 'vitest';

import { clearMnistCache, loadMnist, loadMnistPartition, parseIdx } from '../src/mnist.js';

/** Per-digit counts of the MNIST training and test labels (LeCun's distribution). */
const TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

function labelCounts(y: ArrayLike<number>): number[] {
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < y.length; i++) counts[y[i]!]!++;
  return counts;
}

/** Element-wise equality of two typed arrays (vitest's deep equality is slow on 10^6 elements). */
function expectSameArray(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  let firstMismatch = -1;
  for (let i = 0; i < actual.length && firstMismatch < 0; i++) if (actual[i] !== expected[i]) firstMismatch = i;
  expect(firstMismatch).toBe(-1);
}

function idxBytes(header: number[], dims: number[], payload: number[]): Uint8Array {
  const bytes = new Uint8Array(header.length + 4 * dims.length + payload.length);
  bytes.set(header);
  const view = new DataView(bytes.buffer);
  dims.forEach((d, i) => view.setUint32(header.length + 4 * i, d, false));
  bytes.set(payload, header.length + 4 * dims.length);
  return bytes;
}

async function expectRejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => new Error('did not reject'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FedkitError);
  expect((error as FedkitError).code).toBe(code);
  expect((error as FedkitError).message).toMatch(message);
}

describe('parseIdx', () => {
  it('reads the big-endian header and returns the payload', () => {
    const idx = parseIdx(idxBytes([0, 0, 8, 3], [2, 2, 3], [...Array(12).keys()]));
    expect(idx.magic).toBe(2051);
    expect(idx.dims).toEqual([2, 2, 3]);
    expect(Array.from(idx.data)).toEqual([...Array(12).keys()]);
    expect(parseIdx(idxBytes([0, 0, 8, 1], [70_000], new Array(70_000).fill(1))).dims).toEqual([70_000]);
  });

  it.each<[string, Uint8Array, RegExp]>([
    ['a gzip file', Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), /bad magic 0x1f8b0800 \(529205248\): not an idx file \(MNIST uses 2051 and 2049; 0x1f8b... is gzip\)/],
    ['float data', idxBytes([0, 0, 0x0d, 1], [1], [0, 0, 0, 0]), /data type 0xd is not supported \(expected 0x08/],
    ['a truncated payload', idxBytes([0, 0, 8, 3], [2, 28, 28], new Array(1000).fill(0)), /has 1016 bytes, expected 1584 \(header 16 \+ dims \[2, 28, 28\]\)/],
    ['trailing bytes', idxBytes([0, 0, 8, 1], [2], [1, 2, 3]), /has 11 bytes, expected 10/],
    ['a header cut short', Uint8Array.from([0, 0, 8, 3, 0, 0]), /too short for a 3-dimension header/],
    ['no dimensions', Uint8Array.from([0, 0, 8, 0]), /too short for a 0-dimension header/],
    ['two bytes', Uint8Array.from([0, 0]), /has 2 bytes, too short for an idx header/],
  ])('rejects %s with data-invalid naming the source', (_, bytes, message) => {
    try {
      parseIdx(bytes, 'fixture.idx');
      throw new Error('did not throw');
    } catch (error) {
      expect(error).toBeInstanceOf(FedkitError);
      expect((error as FedkitError).code).toBe('data-invalid');
      expect((error as FedkitError).message).toMatch(/^fixture\.idx: /);
      expect((error as FedkitError).message).toMatch(message);
    }
  });
});

let train: LocalDataset;
let test: LocalDataset;
beforeAll(async () => {
  [train, test] = await Promise.all([loadMnist({ split: 'train' }), loadMnist({ split: 'test' })]);
});

describe('loadMnist', () => {
  it('reads 60,000 training and 10,000 test examples of 784 pixels and 10 classes', () => {
    for (const [ds, n] of [[train, 60_000], [test, 10_000]] as const) {
      expect(ds.length).toBe(n);
      expect(ds.xShape).toEqual([784]);
      expect(ds.numClasses).toBe(10);
      expect(ds.x).toBeInstanceOf(Float32Array);
      expect(ds.x.length).toBe(n * 784);
      expect(validateDataset(ds)).toBe(ds);
    }
  });

  it('has the known labels: first training labels 5 0 4 1 9, first test labels 7 2 1 0 4, and the per-digit counts', () => {
    expect(Array.from(train.y.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(Array.from(test.y.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    expect(labelCounts(train.y)).toEqual(TRAIN_COUNTS);
    expect(labelCounts(test.y)).toEqual(TEST_COUNTS);
  });

  it('scales pixels to [0, 1] as byte / 255, with both ends present', () => {
    let min = Infinity;
    let max = -Infinity;
    let offGrid = 0;
    for (const v of test.x) {
      if (v < min) min = v;
      if (v > max) max = v;
      if (Math.fround(Math.round(v * 255) / 255) !== v) offGrid++;
    }
    expect([min, max, offGrid]).toEqual([0, 1, 0]);
    // The first training image (a 5) is mostly background: about 19% of its pixels are ink.
    const ink = train.x.subarray(0, 784).filter((v) => v > 0).length;
    expect(ink).toBeGreaterThan(100);
    expect(ink).toBeLessThan(250);
  });

  it('keeps the first `limit` examples', async () => {
    const head = await loadMnist({ split: 'test', limit: 100 });
    expect(head.length).toBe(100);
    expectSameArray(head.x, test.x.subarray(0, 100 * 784));
    expectSameArray(head.y, test.y.subarray(0, 100));
  });

  it('hands out fresh arrays: changing one result does not change the next load', async () => {
    const a = await loadMnist({ split: 'test', limit: 10 });
    a.x.fill(-1);
    a.y.fill(0);
    const b = await loadMnist({ split: 'test', limit: 10 });
    expectSameArray(b.x, test.x.subarray(0, 7840));
    expectSameArray(b.y, test.y.subarray(0, 10));
  });

  it('rejects a bad split or limit with config-invalid', async () => {
    await expectRejectsWith(loadMnist({ split: 'validation' as 'test' }), 'config-invalid', /split must be 'train' or 'test', got "validation"/);
    for (const limit of [0, 10_001, 1.5]) {
      await expectRejectsWith(loadMnist({ split: 'test', limit }), 'config-invalid', /limit must be an integer in \[1, 10000\]/);
    }
  });
});

describe('loadMnistPartition', () => {
  it('McMahan shards on the real labels: 100 clients × 600 from 2 shards, most with exactly 2 digits', async () => {
    const parts = partition(train.y, { kind: 'shards' }, 100, seededRandomSource(1));
    const seen = new Uint8Array(60_000);
    for (const part of parts) for (const i of part) seen[i]!++;
    expect(seen.every((c) => c === 1)).toBe(true);
    expect(parts.every((p) => p.length === 600)).toBe(true);
    const digits = partitionLabelCounts(train.y, parts, 10).map((row) => row.filter((c) => c > 0).length);
    // A shard straddles at most one digit boundary, so ≤ 4 digits per client and at most
    // 9 straddling shards; two shards of one digit happen to ~10 clients on average.
    expect(Math.max(...digits)).toBeLessThanOrEqual(4);
    expect(digits.filter((d) => d <= 2).length).toBeGreaterThanOrEqual(91);
    expect(digits.filter((d) => d === 2).length).toBeGreaterThanOrEqual(75);

    // Every client's loadMnistPartition equals its subset of the full split.
    let counts = new Array<number>(10).fill(0);
    for (let index = 0; index < 100; index++) {
      const mine = await loadMnistPartition({ split: 'train', partition: { kind: 'shards' }, numClients: 100, index, seed: 1 });
      expect(mine.length).toBe(600);
      expectSameArray(mine.y, Uint8Array.from(parts[index]!, (i) => train.y[i]!));
      if (index === 0 || index === 99) expectSameArray(mine.x, subsetDataset(train, parts[index]!).x);
      counts = counts.map((c, d) => c + labelCounts(mine.y)[d]!);
    }
    expect(counts).toEqual(TRAIN_COUNTS);
  });

  it('computes the same part in a fresh process (empty cache) for the same seed, another for another seed', async () => {
    const options = { split: 'test', partition: { kind: 'dirichlet', alpha: 0.5 }, numClients: 10, index: 3, seed: 7 } as const;
    const first = await loadMnistPartition(options);
    clearMnistCache();
    const again = await loadMnistPartition(options);
    expectSameArray(again.y, first.y);
    expectSameArray(again.x, first.x);
    const other = await loadMnistPartition({ ...options, seed: 8 });
    expect(other.y).not.toEqual(first.y);
  });

  it('partitions only the first `limit` examples when asked', async () => {
    const mine = await loadMnistPartition({ split: 'train', partition: { kind: 'iid' }, numClients: 10, index: 9, seed: 1, limit: 1000 });
    expect(mine.length).toBe(100);
    expect(validateDataset(mine)).toBe(mine);
  });

  it('rejects a bad index, seed or spec with config-invalid naming the field', async () => {
    const base = { split: 'test', partition: { kind: 'iid' }, numClients: 10, index: 0, seed: 1 } as const;
    await expectRejectsWith(loadMnistPartition({ ...base, index: 10 }), 'config-invalid', /client index must be an integer in \[0, 10\), got 10/);
    await expectRejectsWith(loadMnistPartition({ ...base, index: -1 }), 'config-invalid', /client index/);
    await expectRejectsWith(loadMnistPartition({ ...base, seed: 0.5 }), 'config-invalid', /seed must be an integer, got 0.5/);
    await expectRejectsWith(loadMnistPartition({ ...base, partition: { kind: 'dirichlet', alpha: 0 } }), 'config-invalid', /alpha must be a finite number > 0/);
    await expectRejectsWith(loadMnistPartition({ ...base, numClients: 20_000, index: 0 }), 'config-invalid', /numClients must be an integer in \[1, 10000\]/);
  });
});
