/**
 * The WebAssembly row store: the round's updates as one contiguous n × P float32 matrix at
 * the start of a wasm memory that grows by one row per reply (V8 reserves the address space,
 * so growing does not copy), and the SIMD kernels of wasm-bytes.ts run over it in place.
 *
 * When the round closes, a workspace is laid out after the rows:
 *
 *     [rows: n·P floats][row table: i32 per row][network: i32 pairs][scratch: 64 B per row][out: P floats + 64 B]
 *
 * (or [rows][2 × 2 row blocks: 32 B each][their sums: 4 f64 each]). Kernels read and write 16 floats at a time, so
 * the last group of a row may read past its end into the next row or the workspace, and
 * write up to 60 bytes past `out`: lanes are independent, and those lanes are never copied out.
 */
import { FedkitError } from '@fedkit/protocol';
import { checkIndices, checkReduction, middleRanks, wantedRanks, type ColumnReduction } from './reductions.js';
import { squaredDistance } from './js-row-store.js';
import type { RowStore } from './row-store.js';
import { sortingNetwork } from './sorting-network.js';

const PAGE_BYTES = 65536;
/** V8 and browsers cap one wasm32 memory at 65536 pages (4 GiB). */
export const MAX_WASM_BYTES = 65536 * PAGE_BYTES;
/** Floats per distance pass: 100 rows × 4 KB stay in a 512 KB L2 cache. */
const DISTANCE_CHUNK = 1024;
const GROUP = 16;

interface Kernels {
  sortGroup(rowTable: number, rowTableEnd: number, col4: number, scratch: number, net: number, netEnd: number): void;
  sumRanks(from: number, to: number, scale: number, out: number): void;
  closestMean(scratch: number, theta: number, beta: number, lo: number, hi: number, scale: number, out: number): void;
  distanceBlocks(table: number, tableEnd: number, col4: number, len4: number): void;
}

const align = (bytes: number): number => Math.ceil(bytes / 64) * 64;

interface Instance {
  memory: WebAssembly.Memory;
  kernels: Kernels;
}

/**
 * One memory kept from the last released store, as FedAvg's kernel keeps its sum (kernels/
 * weighted-sum.ts): rounds run one after another, and reusing the pages the last round
 * faulted in saves the next round from faulting in n × P × 4 bytes again (~0.5 s at
 * 100 × 1M here). The price: a server running a robust strategy holds that memory between
 * rounds too. Nothing is read before it is written, so the memory is not cleared.
 */
let spare: Instance | null = null;

function takeInstance(module: WebAssembly.Module): Instance {
  const reused = spare;
  spare = null;
  if (reused !== null) return reused;
  const memory = new WebAssembly.Memory({ initial: 1 });
  return { memory, kernels: new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Kernels };
}

export class WasmRowStore implements RowStore {
  readonly kernel = 'wasm-simd' as const;
  count = 0;
  #memory: WebAssembly.Memory | null;
  readonly #kernels: Kernels;
  readonly #rowBytes: number;

  constructor(
    module: WebAssembly.Module,
    readonly length: number,
    /** Whether the caller falls back to JS by itself (otherwise the error says to use kernel "js"). */
    readonly auto: boolean,
    /** The most bytes the memory may grow to (lower only in tests). */
    readonly maxBytes = MAX_WASM_BYTES,
  ) {
    const { memory, kernels } = takeInstance(module);
    this.#memory = memory;
    this.#kernels = kernels;
    this.#rowBytes = length * 4;
  }

  add(update: Float32Array): void {
    if (update.length !== this.length) throw new RangeError(`row has ${update.length} floats, the store holds rows of ${this.length}`);
    const offset = this.count * this.#rowBytes;
    this.#ensure(offset + this.#rowBytes);
    new Float32Array(this.#live().buffer, offset, this.length).set(update);
    this.count++;
  }

  row(index: number): Float32Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new RangeError(`row index ${index} is outside [0, ${this.count})`);
    return new Float32Array(this.#live().buffer, index * this.#rowBytes, this.length);
  }

  distances(): Float64Array {
    const n = this.count;
    const half = Math.ceil(n / 2);
    // Blocks of 2 × 2 rows (p ≤ q): each pair i < j lies in exactly one; an odd last row pairs with itself.
    const blocks: [number, number][] = [];
    for (let p = 0; p < half; p++) for (let q = p; q < half; q++) blocks.push([p, q]);
    const table = align(this.count * this.#rowBytes);
    const sums = align(table + 32 * blocks.length);
    this.#ensure(sums + 32 * blocks.length);
    const buffer = this.#live().buffer;
    const entries = new Int32Array(buffer, table, 8 * blocks.length);
    const rowAt = (r: number): number => Math.min(r, n - 1) * this.#rowBytes;
    blocks.forEach(([p, q], k) => entries.set([rowAt(2 * p), rowAt(2 * p + 1), rowAt(2 * q), rowAt(2 * q + 1), sums + 32 * k, 0, 0, 0], 8 * k));
    new Float64Array(buffer, sums, 4 * blocks.length).fill(0);
    const vectorEnd = this.length - (this.length % GROUP);
    for (let col = 0; col < vectorEnd; col += DISTANCE_CHUNK) {
      this.#kernels.distanceBlocks(table, table + 32 * blocks.length, col * 4, Math.min(DISTANCE_CHUNK, vectorEnd - col) * 4);
    }
    const blockSums = new Float64Array(this.#live().buffer, sums, 4 * blocks.length).slice();
    const matrix = new Float64Array(n * n);
    blocks.forEach(([p, q], k) => {
      for (let x = 0; x < 2; x++) {
        for (let y = 0; y < 2; y++) {
          const i = 2 * p + x;
          const j = 2 * q + y;
          if (i >= j || j >= n) continue;
          // The last P mod 16 floats, which the kernel leaves out.
          const tail = vectorEnd < this.length ? squaredDistance(this.row(i).subarray(vectorEnd), this.row(j).subarray(vectorEnd)) : 0;
          matrix[i * n + j] = matrix[j * n + i] = blockSums[4 * k + 2 * x + y]! + tail;
        }
      }
    });
    return matrix;
  }

  reduceColumns(reduction: ColumnReduction, indices?: readonly number[]): Float32Array {
    const rows = checkIndices(indices, this.count);
    const n = rows.length;
    checkReduction(reduction, n);
    const network = sortingNetwork(n, ...wantedRanks(reduction, n));
    const rowTable = this.#rowTable(rows);
    const net = align(rowTable + 4 * n);
    const scratch = align(net + 4 * network.length);
    const out = align(scratch + 64 * n);
    this.#ensure(out + this.#rowBytes + 64);
    const buffer = this.#live().buffer;
    const addresses = new Int32Array(buffer, net, network.length);
    for (let c = 0; c < network.length; c++) addresses[c] = scratch + 64 * network[c]!;
    const netEnd = net + 4 * network.length;
    const { sortGroup, sumRanks, closestMean } = this.#kernels;
    const rowTableEnd = rowTable + 4 * n;
    if (reduction.kind === 'ranks') {
      const from = scratch + 64 * reduction.from;
      const to = scratch + 64 * reduction.to;
      const scale = Math.fround(reduction.scale);
      for (let col4 = 0; col4 < this.#rowBytes; col4 += 64) {
        sortGroup(rowTable, rowTableEnd, col4, scratch, net, netEnd);
        sumRanks(from, to, scale, out + col4);
      }
    } else {
      const [lo, hi] = middleRanks(n);
      const scale = Math.fround(1 / reduction.beta);
      for (let col4 = 0; col4 < this.#rowBytes; col4 += 64) {
        sortGroup(rowTable, rowTableEnd, col4, scratch, net, netEnd);
        closestMean(scratch, n, reduction.beta, lo, hi, scale, out + col4);
      }
    }
    return new Float32Array(this.#live().buffer, out, this.length).slice();
  }

  release(): void {
    if (this.#memory !== null) spare = { memory: this.#memory, kernels: this.#kernels };
    this.#memory = null;
  }

  /** Writes the byte addresses of `rows` just after the stored rows; returns where. */
  #rowTable(rows: readonly number[]): number {
    const at = align(this.count * this.#rowBytes);
    this.#ensure(at + 4 * rows.length);
    const table = new Int32Array(this.#live().buffer, at, rows.length);
    rows.forEach((r, k) => (table[k] = r * this.#rowBytes));
    return at;
  }

  #ensure(bytes: number): void {
    const memory = this.#live();
    const pages = Math.ceil((bytes + 64) / PAGE_BYTES);
    // Checked against the round's own needs, not the memory's size, which a reused memory may exceed.
    if (pages * PAGE_BYTES > this.maxBytes) {
      const hint = this.auto ? '' : '; use kernel "js"';
      throw new FedkitError('backend-unavailable', `${this.count + 1} updates of ${this.length} floats do not fit in one WebAssembly memory (${this.maxBytes} bytes)${hint}`);
    }
    const have = memory.buffer.byteLength / PAGE_BYTES;
    if (pages <= have) return;
    // V8 reserves a wasm memory's address space up front, so growing commits pages and copies nothing.
    memory.grow(pages - have);
  }

  #live(): WebAssembly.Memory {
    if (this.#memory === null) throw new FedkitError('internal', 'row store used after release()');
    return this.#memory;
  }
}
