/**
 * The wasm conv and matmul gradient kernels must give the cpu backend's gradients (the
 * reference implementation) within float32 tolerance, for 'same' and 'valid' padding,
 * strides 1 and 2, odd and even kernels, and must not leak wasm memory.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-layers' Node bundle is what registers tfjs-core's gradient functions.
import '@tensorflow/tfjs-layers';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { seededRandomSource } from '@fedkit/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasWasmConvGradients, registerWasmConvGradients, unregisterWasmConvGradients } from '../src/engine/wasm-conv-gradients.js';
import { registerWasmMatMulGradients, unregisterWasmMatMulGradients } from '../src/engine/wasm-matmul-gradients.js';

type Pad = 'same' | 'valid';
type Shape4 = [number, number, number, number];

function randomArray(n: number, seed: number): Float32Array {
  const random = seededRandomSource(seed);
  return Float32Array.from({ length: n }, () => random.nextFloat() * 2 - 1);
}

/** dL/dx and dL/dfilter of L = sum(conv2d(x, f) * w), for a fixed random w. */
async function convGrads(backend: string, xShape: Shape4, fShape: Shape4, stride: number, pad: Pad): Promise<[Float32Array, Float32Array]> {
  await tf.setBackend(backend);
  const [dx, df] = tf.tidy(() => {
    const x = tf.tensor4d(randomArray(xShape.reduce((a, b) => a * b), 1), xShape);
    const f = tf.tensor4d(randomArray(fShape.reduce((a, b) => a * b), 2), fShape);
    const outShape = tf.conv2d(x, f, stride, pad).shape;
    const w = tf.tensor(randomArray(outShape.reduce((a, b) => a * b), 3), outShape);
    const loss = (...args: tf.Tensor[]): tf.Tensor => tf.sum(tf.mul(tf.conv2d(args[0] as tf.Tensor4D, args[1] as tf.Tensor4D, stride, pad), w));
    return tf.grads(loss)([x, f]).map((t) => t.dataSync() as Float32Array);
  });
  return [dx!, df!];
}

function expectClose(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst, `${what}: max |wasm - cpu| vs max |cpu| ${scale}`).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
}

beforeAll(async () => {
  const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + '/';
  setWasmPaths(wasmDir);
  registerWasmConvGradients();
  registerWasmMatMulGradients();
  expect(await tf.setBackend('wasm')).toBe(true);
});

describe('wasm conv gradients', () => {
  const cases: Array<[Shape4, Shape4, number, Pad]> = [
    [[2, 12, 12, 1], [5, 5, 1, 4], 1, 'same'], // the paper CNN's first layer, shrunk
    [[2, 7, 7, 6], [5, 5, 6, 8], 1, 'same'], // the second layer, shrunk
    [[2, 9, 9, 3], [5, 5, 3, 4], 1, 'valid'],
    [[1, 8, 8, 2], [4, 4, 2, 3], 1, 'same'], // even kernel: asymmetric padding
    [[1, 10, 11, 2], [3, 3, 2, 5], 2, 'same'],
    [[1, 10, 11, 2], [3, 2, 2, 5], 2, 'valid'], // rows past the last window are cropped
  ];
  for (const [xShape, fShape, stride, pad] of cases) {
    it(`x ${xShape.join('x')}, filter ${fShape.join('x')}, stride ${stride}, ${pad}`, async () => {
      const [cpuDx, cpuDf] = await convGrads('cpu', xShape, fShape, stride, pad);
      const [wasmDx, wasmDf] = await convGrads('wasm', xShape, fShape, stride, pad);
      expectClose(wasmDx, cpuDx, 'input gradient');
      expectClose(wasmDf, cpuDf, 'filter gradient');
    });
  }

  it('frees every intermediate (no tensors or wasm buffers left)', async () => {
    await tf.setBackend('wasm');
    await convGrads('wasm', [1, 8, 8, 2], [3, 3, 2, 4], 1, 'same');
    const tensorsBefore = tf.memory().numTensors;
    // The backend's own count also sees buffers the kernels allocate internally.
    const buffersBefore = tf.backend().numDataIds();
    for (let i = 0; i < 3; i++) await convGrads('wasm', [1, 8, 8, 2], [3, 3, 2, 4], 2, 'valid');
    for (let i = 0; i < 3; i++) await convGrads('wasm', [1, 8, 8, 2], [3, 3, 2, 4], 1, 'same');
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(tf.backend().numDataIds()).toBe(buffersBefore);
  });

  it('registers idempotently and unregisters back to the stock kernels', () => {
    registerWasmConvGradients();
    expect(hasWasmConvGradients()).toBe(true);
    unregisterWasmConvGradients();
    expect(hasWasmConvGradients()).toBe(false);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBeDefined();
    registerWasmConvGradients();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });
});

describe('wasm matmul gradients', () => {
  async function matmulGrads(backend: string): Promise<Float32Array[]> {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const a = tf.tensor2d(randomArray(6 * 7, 4), [6, 7]);
      const b = tf.tensor2d(randomArray(7 * 5, 5), [7, 5]);
      const w = tf.tensor2d(randomArray(6 * 5, 6), [6, 5]);
      const direct = [tf.matMul(a, tf.transpose(b), false, true), tf.matMul(tf.transpose(a), b, true, false)];
      const grads = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(tf.matMul(args[0] as tf.Tensor2D, args[1] as tf.Tensor2D), w)))([a, b]);
      return [...direct, ...grads].map((t) => t.dataSync() as Float32Array);
    });
  }

  it('gives the cpu backend results for transposed products and their gradients', async () => {
    const cpu = await matmulGrads('cpu');
    const wasm = await matmulGrads('wasm');
    cpu.forEach((expected, i) => expectClose(wasm[i]!, expected, `output ${i}`));
  });

  it('unregisters back to the stock kernel', () => {
    unregisterWasmMatMulGradients();
    registerWasmMatMulGradients();
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBeDefined();
  });
});
