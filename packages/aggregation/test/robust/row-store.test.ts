/**
 * The row stores: the wasm SIMD kernels against their plain-JS twins (bit for bit on
 * per-coordinate reductions, to float32 rounding on distances), both against direct
 * computation, and the stores' bookkeeping and error paths.
 */
import { FedkitError, seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { JsRowStore, squaredDistance } from '../../src/robust/js-row-store.js';
import type { ColumnReduction } from '../../src/robust/reductions.js';
import { createRowStore, robustKernelModule, type RowStore } from '../../src/robust/row-store.js';

const wasm = robustKernelModule() !== null;
const KINDS: ('js' | 'wasm-simd')[] = wasm ? ['js', 'wasm-simd'] : ['js'];

function randomRows(seed: number, n: number, length: number): Float32Array[] {
  const random = seededRandomSource(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length }, () => random.nextFloat() * 2 - 1));
}

function filled(kind: 'wasm-simd' | 'js', rows: readonly Float32Array[]): RowStore {
  const store = createRowStore(rows[0]!.length, kind);
  for (const r of rows) store.add(r);
  return store;
}

/** Per coordinate, straight from the definition: sort, then sum or pick the window. */
function direct(rows: readonly Float32Array[], reduction: ColumnReduction): number[] {
  return Array.from(rows[0]!, (_, i) => {
    const v = rows.map((r) => r[i]!).sort((a, b) => a - b);
    if (reduction.kind === 'ranks') return v.slice(reduction.from, reduction.to).reduce((s, x) => s + x * reduction.scale, 0);
    const n = v.length;
    const m = (v[(n - 1) >> 1]! + v[n >> 1]!) / 2;
    const byDistance = v.slice().sort((a, b) => Math.abs(a - m) - Math.abs(b - m) || a - b);
    return byDistance.slice(0, reduction.beta).reduce((s, x) => s + x, 0) / reduction.beta;
  });
}

const REDUCTIONS: ColumnReduction[] = [
  { kind: 'ranks', from: 5, to: 6, scale: 1 },
  { kind: 'ranks', from: 5, to: 7, scale: 0.5 },
  { kind: 'ranks', from: 2, to: 10, scale: 1 / 8 },
  { kind: 'closest', beta: 5 },
  { kind: 'closest', beta: 12 },
];

describe('row stores', () => {
  // 12 rows; 1003 floats: the last group of 16 is partial, so the kernels' tails run.
  const rows = randomRows(1, 12, 1003);

  it.each(REDUCTIONS)('JS store reduces columns as the definition says: %o', (reduction) => {
    const out = filled('js', rows).reduceColumns(reduction);
    direct(rows, reduction).forEach((e, i) => expect(out[i]).toBeCloseTo(e, 5));
  });

  it.runIf(wasm).each(REDUCTIONS)('wasm store matches the JS store bit for bit: %o', (reduction) => {
    expect(filled('wasm-simd', rows).reduceColumns(reduction)).toEqual(filled('js', rows).reduceColumns(reduction));
  });

  it.runIf(wasm)('wasm and JS agree on a subset of rows, in any order', () => {
    const subset = [11, 0, 4, 7, 9, 2, 3];
    const reduction: ColumnReduction = { kind: 'closest', beta: 3 };
    const expected = filled('js', subset.map((r) => rows[r]!)).reduceColumns(reduction);
    expect(filled('wasm-simd', rows).reduceColumns(reduction, subset)).toEqual(expected);
    expect(filled('js', rows).reduceColumns(reduction, subset.slice().reverse())).toEqual(expected);
  });

  it('breaks ties towards the smaller values in the closest-to-median mean', () => {
    // Sorted [0, 2, 4], median 2: 0 and 4 are equally close; β = 2 takes {0, 2} → 1.
    const store = filled('js', [[4], [0], [2]].map((v) => Float32Array.from(v)));
    expect(Array.from(store.reduceColumns({ kind: 'closest', beta: 2 }))).toEqual([1]);
    // Sorted [0, 1, 1.5, 10, 11], median 1.5, β = 3: {0, 1, 1.5}, mean 2.5 / 3.
    const other = filled('js', [[10], [1.5], [0], [11], [1]].map((v) => Float32Array.from(v)));
    expect(other.reduceColumns({ kind: 'closest', beta: 3 })[0]).toBeCloseTo(2.5 / 3, 6);
  });

  it.each(KINDS)('%s store: squared distances match the direct sum', (kind) => {
    const store = filled(kind, rows);
    const matrix = store.distances();
    for (let i = 0; i < rows.length; i++) {
      expect(matrix[i * rows.length + i]).toBe(0);
      for (let j = 0; j < rows.length; j++) {
        const expected = squaredDistance(rows[i]!, rows[j]!);
        expect(Math.abs(matrix[i * rows.length + j]! - expected)).toBeLessThanOrEqual(1e-6 * expected);
        expect(matrix[i * rows.length + j]).toBe(matrix[j * rows.length + i]);
      }
    }
  });

  it.each(KINDS)('%s store copies rows in: later changes to the caller’s array do not leak', (kind) => {
    const update = Float32Array.from([1, 2, 3]);
    const store = createRowStore(3, kind);
    store.add(update);
    update[0] = 99;
    expect(Array.from(store.row(0))).toEqual([1, 2, 3]);
    expect(store.count).toBe(1);
    expect(store.kernel).toBe(kind);
  });

  it.each(KINDS)('%s store refuses bad rows, indices and ranks, and use after release', (kind) => {
    const store = filled(kind, [Float32Array.from([1, 2]), Float32Array.from([3, 4])]);
    expect(() => store.add(new Float32Array(3))).toThrow(/3 floats, the store holds rows of 2/);
    expect(() => store.row(2)).toThrow(RangeError);
    expect(() => store.reduceColumns({ kind: 'ranks', from: 0, to: 3, scale: 1 })).toThrow(/\[0, 3\)/);
    expect(() => store.reduceColumns({ kind: 'closest', beta: 0 })).toThrow(/beta/);
    expect(() => store.reduceColumns({ kind: 'ranks', from: 0, to: 1, scale: 1 }, [0, 5])).toThrow(/row index 5/);
    expect(() => store.reduceColumns({ kind: 'ranks', from: 0, to: 1, scale: 1 }, [])).toThrow(/no rows/);
    store.release();
    expect(() => store.row(0)).toThrow(FedkitError);
    expect(() => store.add(new Float32Array(2))).toThrow(expect.objectContaining({ code: 'internal' }));
  });

  it.runIf(wasm)('a store reusing the memory the last one released reads none of its data', () => {
    const big = filled('wasm-simd', rows);
    big.reduceColumns({ kind: 'closest', beta: 5 });
    big.release();
    const small = randomRows(3, 3, 5);
    const reused = filled('wasm-simd', small);
    for (const reduction of [{ kind: 'ranks', from: 1, to: 2, scale: 1 }, { kind: 'closest', beta: 2 }] as const) {
      expect(reused.reduceColumns(reduction)).toEqual(filled('js', small).reduceColumns(reduction));
    }
    const matrix = reused.distances();
    const expected = filled('js', small).distances();
    expected.forEach((d, k) => expect(matrix[k]).toBeCloseTo(d, 6));
  });

  it('JS store is what kernel "js" gives, and "auto" gives wasm where it can', () => {
    expect(createRowStore(4, 'js')).toBeInstanceOf(JsRowStore);
    expect(createRowStore(4).kernel).toBe(wasm ? 'wasm-simd' : 'js');
  });
});
