/**
 * Conv gradients for the tfjs wasm backend, expressed through its fast forward `Conv2D`
 * (XNNPACK). tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel at all, so no conv
 * net trains on it, and its `Conv2DBackpropInput` is a naive loop 10-18x slower than the
 * forward conv (REFERENCE §4). Both gradients are convolutions in disguise:
 *
 * - filter gradient: convolve the input with channels moved to the batch axis
 *   ([Ci, H, W, N]) by dy laid out as a filter ([OH, OW, N, Co]), dilation = forward stride;
 *   the [Ci, KH, KW, Co] result transposed is dW.
 * - input gradient (stride 1): convolve dy, padded by (K - 1) - pad, with the filter flipped
 *   in space and its in/out channels swapped. Strided convs keep the stock kernel.
 *
 * Only tfjs-core is imported (this package is platform-neutral); the wasm backend's own
 * kernels are looked up in the registry and called with the backend, and every
 * intermediate is released with `backend.disposeData`.
 */
import { Conv2D, Conv2DBackpropFilter, Conv2DBackpropInput, Reverse, Slice, Transpose, backend_util } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropFilterAttrs, Conv2DBackpropInputAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { FedkitError } from '@fedkit/protocol';
import { assertWasmKernelsRegistered, replaceWasmKernel, restoreWasmKernel, wasmKernelCaller } from './wasm-kernel-utils.js';
import type { KernelArgs } from './wasm-kernel-utils.js';

type Shape4 = [number, number, number, number];
type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

/** The stock kernels, kept for strided input gradients and for unregistering. */
let stockBackpropInput: KernelConfig | undefined;
let stockBackpropFilter: KernelConfig | undefined;
let installed = false;

function convInfo(inShape: Shape4, filterShape: Shape4, attrs: Conv2DBackpropFilterAttrs | Conv2DBackpropInputAttrs): backend_util.Conv2DInfo {
  const dataFormat = backend_util.convertConv2DDataFormat(attrs.dataFormat);
  return backend_util.computeConv2DInfo(inShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, dataFormat);
}

/** dW = conv(x as [Ci, H, W, N], dy as [OH, OW, N, Co], dilation = stride) transposed. */
function backpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as Conv2DBackpropFilterAttrs;
  const info = convInfo(x.shape as Shape4, a.filterShape, a);
  if (info.dataFormat !== 'channelsLast') {
    throw new FedkitError('backend-unavailable', `wasm Conv2DBackpropFilter supports only NHWC, got ${a.dataFormat}`);
  }
  const call = wasmKernelCaller(backend);
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Rows/columns past the last window the forward conv read contribute nothing: crop them
  // (negative padding) so the gradient conv's output is exactly KH x KW.
  let bottom = (info.filterHeight - 1) * dh + (info.outHeight - 1) * sh + 1 - info.inHeight - top;
  let right = (info.filterWidth - 1) * dw + (info.outWidth - 1) * sw + 1 - info.inWidth - left;
  const temporaries: TensorInfo[] = [];
  try {
    let input = x;
    if (bottom < 0 || right < 0) {
      const size = [info.batchSize, info.inHeight + Math.min(bottom, 0), info.inWidth + Math.min(right, 0), info.inChannels];
      input = call(Slice, { x }, { begin: [0, 0, 0, 0], size });
      temporaries.push(input);
      bottom = Math.max(bottom, 0);
      right = Math.max(right, 0);
    }
    const xT = call(Transpose, { x: input }, { perm: [3, 1, 2, 0] });
    temporaries.push(xT);
    const dyT = call(Transpose, { x: dy }, { perm: [1, 2, 0, 3] });
    temporaries.push(dyT);
    const pad: ExplicitPad = [[0, 0], [top, bottom], [left, right], [0, 0]];
    const grad = call(Conv2D, { x: xT, filter: dyT }, { strides: [dh, dw], pad, dilations: [sh, sw], dataFormat: 'NHWC' });
    temporaries.push(grad);
    return call(Transpose, { x: grad }, { perm: [1, 2, 0, 3] });
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

/** dx = conv(dy padded by K-1-pad, filter flipped in space with in/out swapped); stride 1 only. */
function backpropInput(args: KernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as Conv2DBackpropInputAttrs;
  const info = convInfo(a.inputShape, filter.shape as Shape4, a);
  const top = (info.filterHeight - 1) * info.dilationHeight - info.padInfo.top;
  const left = (info.filterWidth - 1) * info.dilationWidth - info.padInfo.left;
  const bottom = info.inHeight + (info.filterHeight - 1) * info.dilationHeight - info.outHeight - top;
  const right = info.inWidth + (info.filterWidth - 1) * info.dilationWidth - info.outWidth - left;
  const strided = info.strideHeight !== 1 || info.strideWidth !== 1;
  if (strided || info.dataFormat !== 'channelsLast' || Math.min(top, left, bottom, right) < 0) {
    if (stockBackpropInput === undefined) throw new FedkitError('backend-unavailable', 'wasm backend has no Conv2DBackpropInput kernel');
    return stockBackpropInput.kernelFunc(args) as TensorInfo;
  }
  const call = wasmKernelCaller(backend);
  const temporaries: TensorInfo[] = [];
  try {
    const flipped = call(Reverse, { x: filter }, { dims: [0, 1] });
    temporaries.push(flipped);
    const swapped = call(Transpose, { x: flipped }, { perm: [0, 1, 3, 2] });
    temporaries.push(swapped);
    const pad: ExplicitPad = [[0, 0], [top, bottom], [left, right], [0, 0]];
    return call(Conv2D, { x: dy, filter: swapped }, {
      strides: [1, 1], pad, dilations: [info.dilationHeight, info.dilationWidth], dataFormat: 'NHWC',
    });
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

/**
 * Registers the fast conv gradient kernels for the 'wasm' backend (replacing the stock
 * `Conv2DBackpropInput`, which stays in use for strided convs). Call it after importing
 * `@tensorflow/tfjs-backend-wasm`, before or after `setBackend('wasm')`. Idempotent.
 * Throws `backend-unavailable` when the wasm kernels are not registered.
 */
export function registerWasmConvGradients(): void {
  if (installed) return;
  assertWasmKernelsRegistered();
  stockBackpropInput = replaceWasmKernel(Conv2DBackpropInput, backpropInput);
  stockBackpropFilter = replaceWasmKernel(Conv2DBackpropFilter, backpropFilter);
  installed = true;
}

/** Restores the stock wasm kernels (no `Conv2DBackpropFilter`, the slow input gradient). */
export function unregisterWasmConvGradients(): void {
  if (!installed) return;
  restoreWasmKernel(Conv2DBackpropInput, stockBackpropInput);
  restoreWasmKernel(Conv2DBackpropFilter, stockBackpropFilter);
  installed = false;
}

/** Whether `registerWasmConvGradients` is in effect. */
export function hasWasmConvGradients(): boolean {
  return installed;
}
