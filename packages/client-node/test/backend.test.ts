/**
 * initNodeBackend starts tfjs-backend-wasm from the installed package's own files, with
 * the conv gradient kernels a conv net needs to train, and switches backends on request.
 */
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { defaultWasmDir, initNodeBackend } from '../src/backend.js';

describe('initNodeBackend', () => {
  it('finds the wasm binaries in the installed package', () => {
    const dir = defaultWasmDir();
    expect(dir.endsWith('/')).toBe(true);
    expect(existsSync(`${dir}tfjs-backend-wasm-simd.wasm`)).toBe(true);
  });

  it('selects wasm with SIMD and registers the conv gradient kernels', async () => {
    const warnings: string[] = [];
    const info = await initNodeBackend({ log: (m) => warnings.push(m) });
    expect(info.backend).toBe('wasm');
    expect(info.reason).toMatch(/SIMD on/);
    expect(warnings).toEqual([]);
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('is idempotent and switches to cpu and back on request', async () => {
    const first = await initNodeBackend();
    expect(await initNodeBackend()).toEqual(first);
    expect(await initNodeBackend({ backend: 'cpu' })).toEqual({ backend: 'cpu', reason: 'cpu backend requested' });
    expect(tf.getBackend()).toBe('cpu');
    expect((await initNodeBackend({ backend: 'wasm' })).backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('trains a conv layer on wasm (no stock Conv2DBackpropFilter exists)', async () => {
    await initNodeBackend();
    const [df] = tf.tidy(() => {
      const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
      return tf.grads((...args: tf.Tensor[]) => tf.sum(tf.conv2d(x, args[0] as tf.Tensor4D, 1, 'same')))([tf.ones([3, 3, 1, 1])]).map((t) => t.dataSync());
    });
    // Each filter tap sees the input cells its offset keeps inside the 4x4 image.
    expect(Array.from(df!)).toEqual([9, 12, 9, 12, 16, 12, 9, 12, 9]);
  });

  it('rejects an unknown backend name', async () => {
    await expect(initNodeBackend({ backend: 'webgl' as 'cpu' })).rejects.toThrow(TypeError);
  });
});
