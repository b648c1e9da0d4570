/**
 * Seeded label partitioners that split one dataset among simulated clients: IID, McMahan's
 * label shards and Dirichlet label skew. They are pure functions of the labels, the spec
 * and an injected RandomSource, so every process given the same seed computes the same
 * split and can keep only its own part.
 */

import { FedkitError, shuffled, type RandomSource } from '@fedkit/protocol';

import { sampleDirichlet } from './distributions.js';
import { resolvePartitionSpec, type PartitionSpec } from './partition-spec.js';

/** Class labels, one per example. */
export type Labels = Uint8Array | Int32Array;

/**
 * Splits examples among `numClients` clients. Returns one array of example indices per
 * client, each sorted ascending; the arrays are disjoint and together cover every example
 * (for `shards` too: when the count does not divide evenly, shard sizes differ by one).
 * `labels` is not modified. Throws FedkitError('config-invalid') for a bad spec or client
 * count, FedkitError('data-invalid') for a negative label, TypeError for non-label arrays.
 *
 * @example
 * const parts = partition(mnist.y, { kind: 'shards' }, 100, seededRandomSource(1));
 * const mine = subsetDataset(mnist, parts[clientIndex]!);
 */
export function partition(labels: Labels, spec: PartitionSpec, numClients: number, random: RandomSource): number[][] {
  checkLabels(labels);
  const resolved = resolvePartitionSpec(spec);
  const n = labels.length;
  if (!Number.isInteger(numClients) || numClients < 1 || numClients > n) {
    throw new FedkitError('config-invalid', `numClients must be an integer in [1, ${n}] (the number of examples), got ${numClients}`, {
      field: 'numClients',
      value: numClients,
    });
  }
  switch (resolved.kind) {
    case 'iid':
      return iid(n, numClients, random);
    case 'shards':
      return shards(labels, numClients, resolved.shardsPerClient, random);
    case 'dirichlet':
      return dirichlet(labels, numClients, resolved, random);
  }
}

/**
 * Per-client label histograms: `counts[k][c]` examples of class `c` at client `k`.
 * Handy for logging how skewed a partition is.
 */
export function partitionLabelCounts(labels: Labels, parts: readonly (readonly number[])[], numClasses: number): number[][] {
  return parts.map((indices) => {
    const counts = new Array<number>(numClasses).fill(0);
    for (const i of indices) {
      const label = labels[i];
      if (label === undefined || label < 0 || label >= numClasses) {
        throw new RangeError(`index ${i} has label ${label}, outside [0, ${numClasses})`);
      }
      counts[label]!++;
    }
    return counts;
  });
}

function checkLabels(labels: Labels): void {
  if (!(labels instanceof Uint8Array || labels instanceof Int32Array)) {
    throw new TypeError('labels must be a Uint8Array or Int32Array');
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! < 0) {
      throw new FedkitError('data-invalid', `label ${i} is ${labels[i]}, expected a class index ≥ 0`, { field: 'labels' });
    }
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Start offsets of `parts` near-equal consecutive ranges over `n` items (length parts + 1). */
function evenCuts(n: number, parts: number): number[] {
  const base = Math.floor(n / parts);
  const extra = n % parts;
  const cuts = [0];
  for (let k = 0; k < parts; k++) cuts.push(cuts[k]! + base + (k < extra ? 1 : 0));
  return cuts;
}

const ascending = (a: number, b: number): number => a - b;

/** Turns "example i belongs to client owner[i]" into ascending index lists, in one pass. */
function collect(owner: Int32Array, numClients: number): number[][] {
  const parts = range(numClients).map((): number[] => []);
  for (let i = 0; i < owner.length; i++) parts[owner[i]!]!.push(i);
  return parts;
}

function iid(n: number, numClients: number, random: RandomSource): number[][] {
  const order = shuffled(random, range(n));
  const cuts = evenCuts(n, numClients);
  const owner = new Int32Array(n);
  for (let k = 0; k < numClients; k++) for (let p = cuts[k]!; p < cuts[k + 1]!; p++) owner[order[p]!] = k;
  return collect(owner, numClients);
}

/** Example indices grouped by label, classes ascending, indices ascending within each. */
function groupByLabel(labels: Labels): number[][] {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    let group = groups.get(label);
    if (group === undefined) groups.set(label, (group = []));
    group.push(i);
  }
  return [...groups.keys()].sort(ascending).map((label) => groups.get(label)!);
}

function shards(labels: Labels, numClients: number, shardsPerClient: number, random: RandomSource): number[][] {
  const n = labels.length;
  const numShards = numClients * shardsPerClient;
  if (numShards > n) {
    throw new FedkitError(
      'config-invalid',
      `shards partition needs numClients × shardsPerClient ≤ ${n} examples, got ${numClients} × ${shardsPerClient} = ${numShards}`,
      { field: 'shardsPerClient', value: shardsPerClient },
    );
  }
  // Stable: ties keep index order, so the shards depend only on the labels.
  const sorted = groupByLabel(labels).flat();
  const cuts = evenCuts(n, numShards);
  const dealt = shuffled(random, range(numShards));
  const owner = new Int32Array(n);
  dealt.forEach((shard, position) => {
    const k = Math.floor(position / shardsPerClient);
    for (let p = cuts[shard]!; p < cuts[shard + 1]!; p++) owner[sorted[p]!] = k;
  });
  return collect(owner, numClients);
}

function dirichlet(
  labels: Labels,
  numClients: number,
  spec: { alpha: number; minExamples: number; maxAttempts: number },
  random: RandomSource,
): number[][] {
  const n = labels.length;
  if (numClients * spec.minExamples > n) {
    throw new FedkitError(
      'config-invalid',
      `dirichlet partition cannot give ${numClients} clients minExamples ${spec.minExamples} each from ${n} examples`,
      { field: 'minExamples', value: spec.minExamples },
    );
  }
  // Shuffling once is enough: each attempt redraws the proportions, and given them the
  // split of a randomly ordered class is a uniformly random assignment.
  const classes = groupByLabel(labels).map((members) => shuffled(random, members));
  const concentrations = new Array<number>(numClients).fill(spec.alpha);
  let smallest = 0;
  for (let attempt = 0; attempt < spec.maxAttempts; attempt++) {
    const totals = new Array<number>(numClients).fill(0);
    const classCuts = classes.map((members) => {
      const proportions = sampleDirichlet(random, concentrations);
      const cuts = [0];
      let cumulative = 0;
      for (let k = 0; k < numClients; k++) {
        cumulative += proportions[k]!;
        // The last cut is pinned so rounding can never drop the class's final examples.
        const cut = k === numClients - 1 ? members.length : Math.min(members.length, Math.floor(cumulative * members.length));
        cuts.push(Math.max(cut, cuts[k]!));
        totals[k]! += cuts[k + 1]! - cuts[k]!;
      }
      return cuts;
    });
    smallest = totals.reduce((a, b) => Math.min(a, b), Infinity);
    if (smallest >= spec.minExamples) {
      const owner = new Int32Array(n);
      classes.forEach((members, c) => {
        const cuts = classCuts[c]!;
        for (let k = 0; k < numClients; k++) for (let p = cuts[k]!; p < cuts[k + 1]!; p++) owner[members[p]!] = k;
      });
      return collect(owner, numClients);
    }
  }
  throw new FedkitError(
    'config-invalid',
    `dirichlet partition (alpha ${spec.alpha}) gave some client fewer than minExamples ${spec.minExamples} examples in all ` +
      `${spec.maxAttempts} attempts (smallest in the last attempt: ${smallest}); raise alpha, lower minExamples or ` +
      `numClients, or raise maxAttempts`,
    { field: 'alpha', value: spec.alpha },
  );
}
