/**
 * The plain-JS row store: one `Float32Array` copy per update, and the wasm kernels'
 * algorithms written out in JS with the same float32 rounding (`Math.fround` after every
 * multiply and add, as `f32x4.mul`/`f32x4.add` round), so per-coordinate results agree with
 * the wasm store bit for bit. Slower (it is the fallback and the tests' reference), not
 * different.
 */
import { FedkitError } from '@fedkit/protocol';
import { checkIndices, checkReduction, middleRanks, wantedRanks, type ColumnReduction } from './reductions.js';
import type { RowStore } from './row-store.js';
import { sortingNetwork } from './sorting-network.js';

/** Coordinates per group, as in the wasm kernels (four v128 lanes). */
export const GROUP = 16;

export class JsRowStore implements RowStore {
  readonly kernel = 'js' as const;
  #rows: Float32Array[] | null = [];

  constructor(readonly length: number) {}

  get count(): number {
    return this.#live().length;
  }

  add(update: Float32Array): void {
    if (update.length !== this.length) throw new RangeError(`row has ${update.length} floats, the store holds rows of ${this.length}`);
    this.#live().push(update.slice());
  }

  row(index: number): Float32Array {
    const row = this.#live()[index];
    if (row === undefined) throw new RangeError(`row index ${index} is outside [0, ${this.count})`);
    return row;
  }

  distances(): Float64Array {
    const rows = this.#live();
    const n = rows.length;
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) out[i * n + j] = out[j * n + i] = squaredDistance(rows[i]!, rows[j]!);
    }
    return out;
  }

  reduceColumns(reduction: ColumnReduction, indices?: readonly number[]): Float32Array {
    const all = this.#live();
    const rows = checkIndices(indices, all.length).map((r) => all[r]!);
    const n = rows.length;
    checkReduction(reduction, n);
    const [wantFrom, wantTo] = wantedRanks(reduction, n);
    const network = sortingNetwork(n, wantFrom, wantTo);
    const scratch = new Float32Array(n * GROUP);
    const group = new Float32Array(GROUP);
    const out = new Float32Array(this.length);
    for (let col = 0; col < this.length; col += GROUP) {
      const width = Math.min(GROUP, this.length - col);
      for (let r = 0; r < n; r++) {
        scratch.fill(0, r * GROUP, (r + 1) * GROUP);
        scratch.set(rows[r]!.subarray(col, col + width), r * GROUP);
      }
      applyNetwork(scratch, network);
      if (reduction.kind === 'ranks') sumRanks(scratch, reduction.from, reduction.to, reduction.scale, group);
      else closestMean(scratch, n, reduction.beta, group);
      out.set(group.subarray(0, width), col);
    }
    return out;
  }

  release(): void {
    this.#rows = null;
  }

  #live(): Float32Array[] {
    if (this.#rows === null) throw new FedkitError('internal', 'row store used after release()');
    return this.#rows;
  }
}

/** Σ (a_i − b_i)² in float64 (the difference of two float32s is exact in float64). */
export function squaredDistance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return sum;
}

/** Compare-exchange on every column of the group, as `f32x4.pmin`/`pmax` do. */
function applyNetwork(s: Float32Array, network: Int32Array): void {
  for (let c = 0; c < network.length; c += 2) {
    const a = network[c]! * GROUP;
    const b = network[c + 1]! * GROUP;
    for (let k = 0; k < GROUP; k++) {
      const x = s[a + k]!;
      const y = s[b + k]!;
      s[a + k] = y < x ? y : x;
      s[b + k] = x < y ? y : x;
    }
  }
}

function sumRanks(s: Float32Array, from: number, to: number, scale: number, out: Float32Array): void {
  const w = Math.fround(scale);
  out.fill(0);
  for (let r = from; r < to; r++) {
    for (let k = 0; k < GROUP; k++) out[k] = out[k]! + Math.fround(s[r * GROUP + k]! * w);
  }
}

/**
 * Bulyan's per-coordinate step on n sorted values: the mean of the β values closest to the
 * median. They form a window [t, t + β) of the sorted values; t counts the windows beaten by
 * their right neighbour (m − s[t] > s[t+β] − m, monotone in t), so ties go to the smaller
 * values, and only values, never arrival order, decide.
 */
function closestMean(s: Float32Array, n: number, beta: number, out: Float32Array): void {
  const [lo, hi] = middleRanks(n);
  const scale = Math.fround(1 / beta);
  for (let k = 0; k < GROUP; k++) {
    const m = Math.fround(Math.fround(s[lo * GROUP + k]! * 0.5) + Math.fround(s[hi * GROUP + k]! * 0.5));
    let t = 0;
    for (let r = 0; r < n - beta; r++) {
      if (Math.fround(m - s[r * GROUP + k]!) > Math.fround(s[(r + beta) * GROUP + k]! - m)) t++;
    }
    let acc = 0;
    for (let r = 0; r < n; r++) {
      const inWindow = r >= t && r < t + beta;
      acc = Math.fround(acc + (inWindow ? Math.fround(s[r * GROUP + k]! * scale) : 0));
    }
    out[k] = acc;
  }
}
