/**
 * The SecAgg+ neighbour graph (Bell et al., CCS 2020): each client exchanges keys, shares
 * and pairwise masks with k = O(log n) neighbours instead of all n − 1, which cuts client
 * work from O(n) to O(log n). SecAgg (Bonawitz et al., CCS 2017) is the case k = n − 1.
 *
 * Construction: the ids are sorted, then shuffled by a SHA-512 counter-mode stream keyed by a
 * 32-byte seed the server draws and announces; each client is joined to the ⌊k/2⌋ clients on
 * either side of it on the shuffled ring (a Harary graph with random labels, as in Bell et
 * al. and Flower). Odd k adds the opposite client when n is even; when n is odd too, k is
 * rounded up to k + 1. Anyone holding the seed and the id list rebuilds the same graph, so a
 * client can check the neighbour list the server sends it.
 */
import nacl from 'tweetnacl';
import { assertBytes, concatBytes, uint32Bytes } from './bytes.js';
import { MAX_SHARE_X } from './shamir.js';

/** Bytes of the graph seed. */
export const GRAPH_SEED_BYTES = 32;

export interface NeighbourGraph {
  /** The client ids, ascending. */
  readonly ids: readonly number[];
  /** Every client's degree (k, or k + 1 when k and n are both odd; n − 1 when k ≥ n − 1). */
  readonly degree: number;
  /** Each id's neighbours, ascending, never itself. */
  readonly neighbours: ReadonlyMap<number, readonly number[]>;
}

/**
 * Builds the graph over `ids` with degree `neighbourCount` from `seed`.
 *
 * @example
 * const graph = buildNeighbourGraph([1, 2, 3, 4, 5, 6], 2, seed);
 * graph.neighbours.get(3); // two ids, each of which also lists 3
 */
export function buildNeighbourGraph(ids: readonly number[], neighbourCount: number, seed: Uint8Array): NeighbourGraph {
  assertBytes('seed', seed, GRAPH_SEED_BYTES);
  const sorted = checkIds(ids);
  const n = sorted.length;
  if (!Number.isInteger(neighbourCount) || neighbourCount < 1) {
    throw new RangeError(`neighbourCount must be a positive integer, got ${neighbourCount}`);
  }
  const next = hashStream(seed);
  const ring = sorted.slice();
  for (let i = n - 1; i > 0; i--) {
    const j = uniformIndex(next, i + 1);
    const tmp = ring[i]!;
    ring[i] = ring[j]!;
    ring[j] = tmp;
  }
  const offsets = ringOffsets(n, neighbourCount);
  const neighbours = new Map<number, readonly number[]>();
  ring.forEach((id, position) => {
    const set = new Set<number>();
    for (const offset of offsets) {
      set.add(ring[(position + offset) % n]!);
      set.add(ring[(position - offset + n) % n]!);
    }
    set.delete(id);
    neighbours.set(id, [...set].sort((a, b) => a - b));
  });
  return { ids: sorted, degree: neighbours.get(sorted[0]!)!.length, neighbours };
}

/** The degree `buildNeighbourGraph` gives n clients for `neighbourCount` k. */
export function neighbourGraphDegree(n: number, neighbourCount: number): number {
  if (neighbourCount >= n - 1) return n - 1;
  return neighbourCount % 2 === 1 && n % 2 === 1 ? neighbourCount + 1 : neighbourCount;
}

/** The ring distances each client is joined to. */
function ringOffsets(n: number, k: number): number[] {
  if (k >= n - 1) return Array.from({ length: Math.floor(n / 2) }, (_, i) => i + 1);
  const half = Math.floor(k / 2);
  const offsets = Array.from({ length: half }, (_, i) => i + 1);
  if (k % 2 === 1) offsets.push(n % 2 === 0 ? n / 2 : half + 1);
  return offsets;
}

function checkIds(ids: readonly number[]): number[] {
  if (!Array.isArray(ids) || ids.length === 0) throw new RangeError('ids must be a non-empty array');
  const sorted = ids.slice().sort((a, b) => a - b);
  sorted.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 1 || id > MAX_SHARE_X) throw new RangeError(`client id must be an integer in [1, ${MAX_SHARE_X}], got ${id}`);
    if (i > 0 && sorted[i - 1] === id) throw new RangeError(`client id ${id} appears twice`);
  });
  return sorted;
}

/** uint32 words from SHA-512(label ‖ seed ‖ counter), 16 per block. */
function hashStream(seed: Uint8Array): () => number {
  const label = new TextEncoder().encode('fedkit/secagg/graph/v1');
  let counter = 0;
  let block: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  let offset = 0;
  return () => {
    if (offset === block.byteLength) {
      const digest = nacl.hash(concatBytes(label, seed, uint32Bytes(counter++)));
      block = new DataView(digest.buffer, digest.byteOffset, digest.byteLength);
      offset = 0;
    }
    const word = block.getUint32(offset, false);
    offset += 4;
    return word;
  };
}

/** Uniform in [0, n) by rejection (no modulo bias). */
function uniformIndex(next: () => number, n: number): number {
  const limit = 4294967296 - (4294967296 % n);
  for (;;) {
    const x = next();
    if (x < limit) return x % n;
  }
}
