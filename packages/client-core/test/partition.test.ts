import { FedkitError, seededRandomSource, shuffled } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';

import { partition, partitionLabelCounts, type Labels } from '../src/data/partition.js';
import type { PartitionSpec } from '../src/data/partition-spec.js';

/** MNIST's training label counts (digits 0–9), in a seeded random order. */
const MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];

function labelsWithCounts(counts: number[], seed: number): Uint8Array {
  const ordered = counts.flatMap((count, label) => new Array<number>(count).fill(label));
  return Uint8Array.from(shuffled(seededRandomSource(seed), ordered));
}

/** Asserts that parts are sorted, disjoint and together cover 0..n-1. */
function expectExactCover(parts: number[][], n: number): void {
  const seen = new Uint8Array(n);
  const problems: string[] = [];
  parts.forEach((part, k) => {
    part.forEach((i, j) => {
      if (!Number.isInteger(i) || i < 0 || i >= n) problems.push(`client ${k} has index ${i}`);
      else seen[i]!++;
      if (j > 0 && !(i > part[j - 1]!)) problems.push(`client ${k} is not ascending at ${j}`);
    });
  });
  seen.forEach((count, i) => {
    if (count !== 1) problems.push(`example ${i} is held ${count} times`);
  });
  expect(problems.slice(0, 5)).toEqual([]);
}

function expectConfigInvalid(run: () => unknown, message: RegExp): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FedkitError);
    expect((error as FedkitError).code).toBe('config-invalid');
    expect((error as FedkitError).message).toMatch(message);
    return;
  }
  throw new Error('expected a config-invalid FedkitError');
}

const mnistLabels = labelsWithCounts(MNIST_TRAIN_COUNTS, 1);

describe('partition: iid', () => {
  it('gives 100 clients 600 examples each of 60,000, disjoint and covering (McMahan)', () => {
    const parts = partition(mnistLabels, { kind: 'iid' }, 100, seededRandomSource(1));
    expect(parts).toHaveLength(100);
    expect(parts.every((p) => p.length === 600)).toBe(true);
    expectExactCover(parts, 60_000);
  });

  it('splits an uneven count into sizes that differ by at most one', () => {
    const parts = partition(labelsWithCounts([500, 503], 2), { kind: 'iid' }, 10, seededRandomSource(2));
    expect(parts.map((p) => p.length).sort()).toEqual([100, 100, 100, 100, 100, 100, 100, 101, 101, 101]);
    expectExactCover(parts, 1003);
  });

  it('assigns labels at random: client × label contingency chi-square within p ≈ 0.001 bounds', () => {
    // Under a uniformly random equal split the table is a multiple hypergeometric; its
    // Pearson statistic is ≈ χ² with (100 − 1)(10 − 1) = 891 dof. Two-sided 0.001 bounds
    // (0.0005 and 0.9995 quantiles, Wilson–Hilferty) are [759, 1036].
    const parts = partition(mnistLabels, { kind: 'iid' }, 100, seededRandomSource(3));
    const counts = partitionLabelCounts(mnistLabels, parts, 10);
    let chi2 = 0;
    for (const row of counts) {
      row.forEach((observed, c) => {
        const expected = (600 * MNIST_TRAIN_COUNTS[c]!) / 60_000;
        chi2 += (observed - expected) ** 2 / expected;
      });
    }
    expect(chi2).toBeGreaterThan(759);
    expect(chi2).toBeLessThan(1036);
  });

  it('one client gets everything', () => {
    expect(partition(new Uint8Array([2, 0, 1]), { kind: 'iid' }, 1, seededRandomSource(1))).toEqual([[0, 1, 2]]);
  });
});

describe('partition: shards', () => {
  const parts = partition(mnistLabels, { kind: 'shards' }, 100, seededRandomSource(4));
  const counts = partitionLabelCounts(mnistLabels, parts, 10);
  const labelsPerClient = counts.map((row) => row.filter((c) => c > 0).length);

  it('gives 100 clients 600 examples each from 200 shards of 300 (McMahan)', () => {
    expect(parts.every((p) => p.length === 600)).toBe(true);
    expectExactCover(parts, 60_000);
  });

  it('builds each client from exactly 2 shards: aligned runs of 300 in the stable label-sorted order', () => {
    const sorted = Array.from(mnistLabels.keys()).sort((a, b) => mnistLabels[a]! - mnistLabels[b]! || a - b);
    const rank = new Int32Array(60_000);
    sorted.forEach((index, position) => (rank[index] = position));
    for (const part of parts) {
      const shards = new Map<number, number>();
      for (const i of part) shards.set(Math.floor(rank[i]! / 300), (shards.get(Math.floor(rank[i]! / 300)) ?? 0) + 1);
      expect([...shards.values()]).toEqual([300, 300]);
    }
  });

  it('leaves most clients with exactly two digits and none with more than four', () => {
    // A shard straddles at most one label boundary (every digit has > 300 examples), so a
    // client sees at most 2 × 2 labels; at most 9 of the 200 shards straddle, so at least
    // 91 clients see ≤ 2. Two shards of the same digit happen to ~10 clients on average.
    expect(Math.max(...labelsPerClient)).toBeLessThanOrEqual(4);
    expect(labelsPerClient.filter((n) => n <= 2).length).toBeGreaterThanOrEqual(91);
    expect(labelsPerClient.filter((n) => n === 2).length).toBeGreaterThanOrEqual(75);
  });

  it('deals shards uniformly: the client holding shard 0 is uniform over 2,000 seeds (χ², 4 dof, p = 0.001 bound 18.47)', () => {
    const labels = labelsWithCounts([50, 50], 5);
    const holders = new Array<number>(5).fill(0);
    // Shard 0 holds the first 10 examples of label 0 in index order.
    const first = labels.indexOf(0);
    for (let seed = 0; seed < 2000; seed++) {
      const p = partition(labels, { kind: 'shards', shardsPerClient: 2 }, 5, seededRandomSource(seed));
      holders[p.findIndex((part) => part.includes(first))]!++;
    }
    const chi2 = holders.reduce((s, h) => s + (h - 400) ** 2 / 400, 0);
    expect(chi2).toBeLessThan(18.47);
  });

  it('keeps every example when the shard count does not divide the examples', () => {
    const uneven = partition(labelsWithCounts([400, 605], 6), { kind: 'shards', shardsPerClient: 2 }, 10, seededRandomSource(6));
    expectExactCover(uneven, 1005);
    expect(uneven.every((p) => p.length >= 100 && p.length <= 102)).toBe(true);
  });

  it('with one shard per client gives each client a contiguous label block', () => {
    const one = partition(labelsWithCounts([100, 100, 100, 100], 7), { kind: 'shards', shardsPerClient: 1 }, 4, seededRandomSource(7));
    const blocks = partitionLabelCounts(labelsWithCounts([100, 100, 100, 100], 7), one, 4);
    expect(blocks.map((row) => row.filter((c) => c > 0).length)).toEqual([1, 1, 1, 1]);
  });

  it('rejects more shards than examples, naming the fields', () => {
    expectConfigInvalid(
      () => partition(new Uint8Array(10), { kind: 'shards', shardsPerClient: 2 }, 6, seededRandomSource(1)),
      /numClients × shardsPerClient ≤ 10 examples, got 6 × 2 = 12/,
    );
    expectConfigInvalid(() => partition(new Uint8Array(10), { kind: 'shards', shardsPerClient: 0 }, 2, seededRandomSource(1)), /shardsPerClient must be an integer ≥ 1, got 0/);
  });
});

describe('partition: common contract', () => {
  const specs: PartitionSpec[] = [{ kind: 'iid' }, { kind: 'shards' }, { kind: 'dirichlet', alpha: 0.5 }];
  const labels = labelsWithCounts([300, 200, 100, 400], 8);

  it.each(specs)('%j is deterministic for a seed and differs across seeds', (spec) => {
    const a = partition(labels, spec, 10, seededRandomSource(42));
    expect(partition(labels, spec, 10, seededRandomSource(42))).toEqual(a);
    expect(partition(labels, spec, 10, seededRandomSource(43))).not.toEqual(a);
  });

  it.each(specs)('%j does not mutate its inputs', (spec) => {
    const before = labels.slice();
    const frozen = Object.freeze({ ...spec });
    partition(labels, frozen, 10, seededRandomSource(1));
    expect(labels).toEqual(before);
    expect(frozen).toEqual(spec);
  });

  it.each(specs)('%j accepts Int32Array labels with sparse class values', (spec) => {
    const sparse = Int32Array.from(labels, (l) => l * 1000);
    const parts = partition(sparse, spec, 10, seededRandomSource(1));
    expectExactCover(parts, labels.length);
    expect(parts).toEqual(partition(labels, spec, 10, seededRandomSource(1)));
  });

  it('rejects a bad client count, naming numClients and the allowed range', () => {
    for (const bad of [0, -1, 2.5, Number.NaN, 1001]) {
      expectConfigInvalid(() => partition(labels, { kind: 'iid' }, bad, seededRandomSource(1)), /numClients must be an integer in \[1, 1000\]/);
    }
  });

  it('rejects an unknown kind, listing the allowed ones', () => {
    expectConfigInvalid(
      () => partition(labels, { kind: 'pathological' } as unknown as PartitionSpec, 10, seededRandomSource(1)),
      /partition kind must be one of iid, shards, dirichlet, got "pathological"/,
    );
  });

  it('rejects labels that are not class indices', () => {
    expect(() => partition([0, 1] as unknown as Labels, { kind: 'iid' }, 1, seededRandomSource(1))).toThrow(TypeError);
    expect(() => partition(new Float32Array(2) as unknown as Labels, { kind: 'iid' }, 1, seededRandomSource(1))).toThrow(
      /labels must be a Uint8Array or Int32Array/,
    );
    try {
      partition(new Int32Array([0, -3]), { kind: 'iid' }, 1, seededRandomSource(1));
      throw new Error('did not throw');
    } catch (error) {
      expect((error as FedkitError).code).toBe('data-invalid');
      expect((error as FedkitError).message).toMatch(/label 1 is -3, expected a class index ≥ 0/);
    }
  });

  it('partitionLabelCounts rejects an index whose label is out of range', () => {
    expect(() => partitionLabelCounts(new Uint8Array([0, 5]), [[1]], 3)).toThrow(/index 1 has label 5, outside \[0, 3\)/);
  });
});
