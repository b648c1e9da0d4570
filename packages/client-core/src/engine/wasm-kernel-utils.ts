/**
 * Plumbing shared by the wasm kernel overrides: calling the wasm backend's own kernels
 * from inside another kernel (through the registry, so this package never imports
 * tfjs-backend-wasm) and swapping a registered kernel for a replacement while keeping the
 * stock one callable and restorable.
 */
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelBackend, KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { FedkitError } from '@fedkit/protocol';

/** The backend name the overrides target. */
export const WASM = 'wasm';

/** Arguments every kernel function receives. */
export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: KernelBackend;
  attrs?: NamedAttrMap;
}

/** Runs another wasm kernel directly (no tape, no engine bookkeeping). */
export type KernelCall = (kernelName: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap) => TensorInfo;

/** A `KernelCall` bound to `backend`. */
export function wasmKernelCaller(backend: KernelBackend): KernelCall {
  return (kernelName, inputs, attrs) => {
    const kernel = getKernel(kernelName, WASM);
    if (kernel === undefined) throw new FedkitError('backend-unavailable', `wasm backend has no ${kernelName} kernel`);
    return kernel.kernelFunc({ inputs, backend, attrs }) as TensorInfo;
  };
}

/**
 * Registers `kernelFunc` as the wasm `kernelName`, returning the stock config it replaced
 * (undefined when there was none). The stock `setupFunc` is kept, so the stock kernel can
 * still be called if the backend initializes after the swap.
 */
export function replaceWasmKernel(kernelName: string, kernelFunc: (args: KernelArgs) => TensorInfo): KernelConfig | undefined {
  const stock = getKernel(kernelName, WASM);
  if (stock !== undefined) unregisterKernel(kernelName, WASM);
  const config: KernelConfig = { kernelName, backendName: WASM, kernelFunc: kernelFunc as KernelConfig['kernelFunc'] };
  if (stock?.setupFunc !== undefined) config.setupFunc = stock.setupFunc;
  registerKernel(config);
  return stock;
}

/** Undoes `replaceWasmKernel`: removes the replacement and re-registers `stock`, if any. */
export function restoreWasmKernel(kernelName: string, stock: KernelConfig | undefined): void {
  if (getKernel(kernelName, WASM) !== undefined) unregisterKernel(kernelName, WASM);
  if (stock !== undefined) registerKernel(stock);
}

/** Throws `backend-unavailable` unless the wasm backend package has registered its kernels. */
export function assertWasmKernelsRegistered(): void {
  if (getKernel('Conv2D', WASM) === undefined || getKernel('BatchMatMul', WASM) === undefined) {
    throw new FedkitError('backend-unavailable', 'the wasm backend kernels are not registered: import @tensorflow/tfjs-backend-wasm first');
  }
}
