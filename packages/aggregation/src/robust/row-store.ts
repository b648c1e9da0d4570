/**
 * Where a robust strategy keeps a round's updates: unlike FedAvg it needs every update at
 * once (a median cannot stream), so each reply is copied in as it arrives, as one row of an
 * n × P matrix, and the per-round kernels run over the rows when the round closes.
 *
 * Two implementations with the same results: rows in one growing WebAssembly memory,
 * contiguous, worked on by the SIMD kernels of wasm-bytes.ts; and plain `Float32Array` rows
 * with the same algorithms in JS, for platforms without WebAssembly SIMD, for models too big
 * for a wasm32 memory (n × P × 4 bytes must stay under 4 GiB), and as the tests' reference.
 * Per-coordinate results (ranks, closest-to-median means) agree bit for bit; distances agree
 * to float32 rounding (JS sums in float64, wasm in float32 lanes per 1,024 floats).
 */
import { FedkitError } from '@fedkit/protocol';
import type { KernelChoice } from '../kernels/weighted-sum.js';
import type { KernelKind } from '../kernels/weighted-accumulate.js';
import { JsRowStore } from './js-row-store.js';
import { ROBUST_KERNELS_WASM } from './wasm-bytes.js';
import { MAX_WASM_BYTES, WasmRowStore } from './wasm-row-store.js';
import type { ColumnReduction } from './reductions.js';

export interface RowStore {
  readonly kernel: KernelKind;
  /** Floats per row (P). */
  readonly length: number;
  /** Rows added so far (n). */
  readonly count: number;
  /** Copies `update` in as the next row. */
  add(update: Float32Array): void;
  /** Row `index`, as a view valid until the next `add` or `release` (copy what you keep). */
  row(index: number): Float32Array;
  /** Squared L2 distances between every pair of rows, n × n, row-major, in float64. */
  distances(): Float64Array;
  /** `reduction` of each coordinate over the rows `indices` (all rows when omitted), as a fresh array. */
  reduceColumns(reduction: ColumnReduction, indices?: readonly number[]): Float32Array;
  /** Gives the memory back; the store is unusable after. */
  release(): void;
}

let wasmModule: WebAssembly.Module | null | undefined;

/** The compiled robust kernels, or `null` where WebAssembly or its SIMD extension is missing. */
export function robustKernelModule(): WebAssembly.Module | null {
  if (wasmModule === undefined) {
    const wasm = (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly;
    wasmModule = wasm !== undefined && wasm.validate(ROBUST_KERNELS_WASM) ? new wasm.Module(ROBUST_KERNELS_WASM) : null;
  }
  return wasmModule;
}

/**
 * Creates an empty store for rows of `length` floats. A wasm store refuses to grow past
 * `maxWasmBytes` (4 GiB, wasm32's limit, unless a test lowers it) with `backend-unavailable`.
 */
export function createRowStore(length: number, kernel: KernelChoice = 'auto', maxWasmBytes = MAX_WASM_BYTES): RowStore {
  if (kernel === 'js') return new JsRowStore(length);
  const module = robustKernelModule();
  if (module !== null) return new WasmRowStore(module, length, kernel === 'auto', maxWasmBytes);
  if (kernel === 'wasm-simd') {
    throw new FedkitError('backend-unavailable', 'kernel "wasm-simd" was requested but WebAssembly SIMD is not available here');
  }
  return new JsRowStore(length);
}
