/**
 * Faster matmul gradients on the tfjs wasm backend. The gradient of `a @ b` is
 * `dy @ bᵀ` and `aᵀ @ dy`; tfjs asks for these as `BatchMatMul` with `transposeB` /
 * `transposeA`, which tfjs-backend-wasm 4.22 runs in a naive loop (measured ~9x slower for
 * the 2NN's first-layer weight gradient) instead of XNNPACK. Materializing the transpose
 * with the wasm `Transpose` kernel and calling the stock, untransposed `BatchMatMul` gives
 * the same numbers through the fast path. Only tfjs-core is imported.
 */
import { BatchMatMul, Transpose } from '@tensorflow/tfjs-core';
import type { BatchMatMulAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { assertWasmKernelsRegistered, replaceWasmKernel, restoreWasmKernel, wasmKernelCaller } from './wasm-kernel-utils.js';
import type { KernelArgs } from './wasm-kernel-utils.js';

let stockBatchMatMul: KernelConfig | undefined;
let installed = false;

/** Swaps the last two axes (rank 2 or 3, as `BatchMatMul` sees them). */
function swapLastAxes(x: TensorInfo): number[] {
  const perm = x.shape.map((_, i) => i);
  const n = perm.length;
  perm[n - 2] = n - 1;
  perm[n - 1] = n - 2;
  return perm;
}

function batchMatMul(args: KernelArgs): TensorInfo {
  const stock = stockBatchMatMul!;
  const attrs = args.attrs as unknown as BatchMatMulAttrs;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  if (!attrs.transposeA && !attrs.transposeB) return stock.kernelFunc(args) as TensorInfo;
  const { backend } = args;
  const call = wasmKernelCaller(backend);
  const temporaries: TensorInfo[] = [];
  try {
    let left = a;
    let right = b;
    if (attrs.transposeA) {
      left = call(Transpose, { x: a }, { perm: swapLastAxes(a) });
      temporaries.push(left);
    }
    if (attrs.transposeB) {
      right = call(Transpose, { x: b }, { perm: swapLastAxes(b) });
      temporaries.push(right);
    }
    return stock.kernelFunc({ inputs: { a: left, b: right }, backend, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

/**
 * Routes transposed `BatchMatMul`s on the 'wasm' backend through the fast untransposed
 * kernel. Call after importing `@tensorflow/tfjs-backend-wasm`. Idempotent; throws
 * `backend-unavailable` when the wasm kernels are not registered.
 */
export function registerWasmMatMulGradients(): void {
  if (installed) return;
  assertWasmKernelsRegistered();
  stockBatchMatMul = replaceWasmKernel(BatchMatMul, batchMatMul);
  installed = true;
}

/** Restores the stock wasm `BatchMatMul`. */
export function unregisterWasmMatMulGradients(): void {
  if (!installed) return;
  restoreWasmKernel(BatchMatMul, stockBatchMatMul);
  installed = false;
}
