/**
 * Sorting networks for per-coordinate selection: a fixed list of compare-exchange pairs
 * that sorts any n values, so that one list serves every coordinate and the kernels need no
 * data-dependent branch (see wasm-bytes.ts).
 *
 * Batcher's odd–even merge sort (Knuth, TAOCP vol. 3, §5.3.4, Algorithm M), built for the
 * next power of two and cut to n: the missing inputs act as +∞, which never move, so every
 * comparator that touches one is a no-op and is dropped. When only some ranks are wanted
 * (the median needs one or two), comparators that cannot reach a wanted output are pruned
 * by one backward pass. Comparators come out in an order valid to apply sequentially.
 */

/** Compare-exchange pairs `[lower, upper]` (wire indices), flattened: `[a0, b0, a1, b1, ...]`. */
export type Network = Int32Array;

const cache = new Map<string, Network>();

/**
 * The comparators that put ranks `[wantFrom, wantTo)` of `n` values in place (rank 0 the
 * smallest), every other wire holding some leftover value.
 *
 * @example
 * const net = sortingNetwork(100, 49, 51); // what a median of 100 needs
 */
export function sortingNetwork(n: number, wantFrom = 0, wantTo = n): Network {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  if (!(Number.isSafeInteger(wantFrom) && Number.isSafeInteger(wantTo) && wantFrom >= 0 && wantFrom < wantTo && wantTo <= n)) {
    throw new RangeError(`wanted ranks [${wantFrom}, ${wantTo}) must lie inside [0, ${n})`);
  }
  const key = `${n}:${wantFrom}:${wantTo}`;
  let network = cache.get(key);
  if (network === undefined) {
    network = prune(oddEvenMergeSort(n), n, wantFrom, wantTo);
    cache.set(key, network);
  }
  return network;
}

function oddEvenMergeSort(n: number): number[] {
  let size = 1;
  while (size < n) size *= 2;
  const pairs: number[] = [];
  for (let p = 1; p < size; p *= 2) {
    for (let k = p; k >= 1; k = Math.floor(k / 2)) {
      for (let j = k % p; j + k < size; j += 2 * k) {
        for (let i = 0; i < k && i + j + k < size; i++) {
          const a = i + j;
          const b = a + k;
          if (Math.floor(a / (2 * p)) === Math.floor(b / (2 * p)) && b < n) pairs.push(a, b);
        }
      }
    }
  }
  return pairs;
}

/** Keeps the comparators whose outputs some wanted rank depends on. */
function prune(pairs: number[], n: number, wantFrom: number, wantTo: number): Network {
  const needed = new Uint8Array(n);
  needed.fill(1, wantFrom, wantTo);
  const keep = new Uint8Array(pairs.length / 2);
  for (let c = pairs.length / 2 - 1; c >= 0; c--) {
    const a = pairs[2 * c]!;
    const b = pairs[2 * c + 1]!;
    if (needed[a] === 1 || needed[b] === 1) {
      keep[c] = 1;
      needed[a] = needed[b] = 1;
    }
  }
  const out: number[] = [];
  for (let c = 0; c < keep.length; c++) if (keep[c] === 1) out.push(pairs[2 * c]!, pairs[2 * c + 1]!);
  return Int32Array.from(out);
}
