/**
 * The hot loop of every averaging strategy: `acc[i] = acc[i] + w * u[i]` over a whole model,
 * once per client reply. At 1.7M parameters and hundreds of replies a round it dominates
 * aggregation time, so it must run near memory speed. Measured here (2-core EPYC, Node 20,
 * P = 1.66M, in the same run as a `Float32Array.prototype.set` copy): the unrolled JS loop
 * below reaches ~0.15x of copy speed; the WebAssembly SIMD kernel ~0.7x when both operands
 * already sit in wasm memory (~25 GB/s), ~0.55x once each update is copied in (weighted-sum.ts).
 *
 * Two implementations with bit-identical results: the wasm SIMD kernel, and an unrolled
 * pure-JS loop for platforms without WebAssembly SIMD. Both round like IEEE float32 with no
 * fused multiply-add: `fl(acc + fl(w * u))`. In JS the product and the sum are computed in
 * float64 and rounded once to float32; since 53 ≥ 2·24 + 2, that double rounding is exact
 * (Figueroa, "When is double rounding innocuous?", 1995), so JS and wasm agree bit for bit.
 */
import { WEIGHTED_ACCUMULATE_WASM } from './wasm-simd-bytes.js';

/** Which implementation of the loop runs. */
export type KernelKind = 'wasm-simd' | 'js';

/**
 * `acc[i] = fl(acc[i] + fl(fround(weight) * values[i]))` for every `i`, in pure JS.
 * `values` must be at least as long as `acc`.
 */
export function weightedAccumulateJs(acc: Float32Array, values: Float32Array, weight: number): void {
  const n = acc.length;
  const w = Math.fround(weight);
  const end4 = n - (n & 3);
  let i = 0;
  // Four independent chains per iteration let V8 overlap the loads.
  for (; i < end4; i += 4) {
    const a0 = acc[i]! + Math.fround(w * values[i]!);
    const a1 = acc[i + 1]! + Math.fround(w * values[i + 1]!);
    const a2 = acc[i + 2]! + Math.fround(w * values[i + 2]!);
    const a3 = acc[i + 3]! + Math.fround(w * values[i + 3]!);
    acc[i] = a0;
    acc[i + 1] = a1;
    acc[i + 2] = a2;
    acc[i + 3] = a3;
  }
  for (; i < n; i++) acc[i] = acc[i]! + Math.fround(w * values[i]!);
}

let wasmModule: WebAssembly.Module | null | undefined;

/** The compiled kernel module, or `null` where WebAssembly or its SIMD extension is missing. */
function kernelModule(): WebAssembly.Module | null {
  if (wasmModule === undefined) {
    const wasm = (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly;
    wasmModule = wasm !== undefined && wasm.validate(WEIGHTED_ACCUMULATE_WASM) ? new wasm.Module(WEIGHTED_ACCUMULATE_WASM) : null;
  }
  return wasmModule;
}

/** Whether the WebAssembly SIMD kernel can run here (it validates the kernel's own bytes). */
export function wasmSimdAvailable(): boolean {
  return kernelModule() !== null;
}

const PAGE_BYTES = 65536;
/** wasm32 addresses 4 GiB; V8 and browsers cap one memory at 65536 pages. */
const MAX_PAGES = 65536;

/** A wasm memory with the kernel instantiated on it. */
export interface WasmKernel {
  readonly memory: WebAssembly.Memory;
  /** `dst[i] += w * src[i]` for `i < n`; `dst` and `src` are byte addresses in `memory`. */
  readonly accumulate: (dst: number, src: number, n: number, w: number) => void;
}

/**
 * Instantiates the kernel on a fresh zeroed memory of at least `bytes` bytes, or returns
 * `null` where SIMD is missing or the memory would exceed what wasm32 can address.
 */
export function createWasmKernel(bytes: number): WasmKernel | null {
  const module = kernelModule();
  const pages = Math.max(1, Math.ceil(bytes / PAGE_BYTES));
  if (module === null || pages > MAX_PAGES) return null;
  const memory = new WebAssembly.Memory({ initial: pages });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const accumulate = instance.exports['accumulate'] as WasmKernel['accumulate'];
  return { memory, accumulate };
}
