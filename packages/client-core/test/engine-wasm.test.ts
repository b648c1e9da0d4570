/**
 * The engine on tfjs-backend-wasm with Fedkit's gradient kernels: one training run from
 * the same weights gives the cpu backend's update for a small conv net and an MLP, the
 * paper's CNN trains at all (stock wasm has no conv filter gradient), and nothing leaks.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { seededRandomSource } from '@fedkit/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalDataset } from '../src/data/dataset.js';
import { TrainingEngine } from '../src/engine/training-engine.js';
import { serializeModel } from '../src/engine/serialize.js';
import { registerWasmConvGradients } from '../src/engine/wasm-conv-gradients.js';
import { registerWasmMatMulGradients } from '../src/engine/wasm-matmul-gradients.js';
import { createMnistCnn } from '../src/models/mcmahan.js';

beforeAll(() => {
  setWasmPaths(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + '/');
  registerWasmConvGradients();
  registerWasmMatMulGradients();
});

function randomData(n: number, xShape: number[], numClasses: number, seed: number): LocalDataset {
  const random = seededRandomSource(seed);
  const size = xShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n * size }, () => random.nextFloat());
  const y = Uint8Array.from({ length: n }, () => random.nextUint32() % numClasses);
  return { x, xShape, y, numClasses, length: n };
}

function smallCnn(): tfl.LayersModel {
  const seed = (s: number): { kernelInitializer: ReturnType<typeof tfl.initializers.glorotUniform> } => ({ kernelInitializer: tfl.initializers.glorotUniform({ seed: s }) });
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ name: 'c1', inputShape: [12, 12, 1], filters: 4, kernelSize: 5, padding: 'same', activation: 'relu', ...seed(1) }),
      tfl.layers.maxPooling2d({ name: 'p1', poolSize: 2 }),
      tfl.layers.conv2d({ name: 'c2', filters: 6, kernelSize: 3, padding: 'valid', activation: 'relu', ...seed(2) }),
      tfl.layers.flatten({ name: 'f' }),
      tfl.layers.dense({ name: 'd', units: 16, activation: 'relu', ...seed(3) }),
      tfl.layers.dense({ name: 'o', units: 4, activation: 'softmax', ...seed(4) }),
    ],
  });
}

/** Trains a copy of `model` on `backend` with shuffling off; returns the update. */
async function updateOn(backend: string, model: tfl.LayersModel, data: LocalDataset): Promise<Float32Array> {
  expect(await tf.setBackend(backend)).toBe(true);
  const { topology, layout, weights } = serializeModel(model);
  const engine = await TrainingEngine.fromTopology(topology, layout);
  engine.setWeights(weights);
  const result = await engine.train(data, { epochs: 2, batchSize: 5, learningRate: 0.1, shuffle: false });
  engine.dispose();
  return result.update;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

describe('TrainingEngine on wasm', () => {
  it('gives the cpu update for a small conv net (same + valid padding)', async () => {
    await tf.setBackend('cpu');
    const model = smallCnn();
    const data = randomData(10, [144], 4, 1);
    const cpu = await updateOn('cpu', model, data);
    const wasm = await updateOn('wasm', model, data);
    const { diff, scale } = maxAbsDiff(wasm, cpu);
    expect(scale).toBeGreaterThan(0);
    expect(diff).toBeLessThan(1e-4 * scale);
  });

  it('gives the cpu update for an MLP (transposed matmul gradients)', async () => {
    await tf.setBackend('cpu');
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ name: 'h', inputShape: [30], units: 20, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }) }),
        tfl.layers.dense({ name: 'o', units: 5, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 6 }) }),
      ],
    });
    const data = randomData(10, [30], 5, 2);
    const { diff, scale } = maxAbsDiff(await updateOn('wasm', model, data), await updateOn('cpu', model, data));
    expect(diff).toBeLessThan(1e-4 * scale);
  });

  it("trains the paper's CNN without leaking tensors", async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const engine = TrainingEngine.fromModel(createMnistCnn({ seed: 1 }));
    const data = randomData(20, [784], 10, 3);
    const global = engine.getWeights();
    await engine.train(data, { epochs: 1, batchSize: 10, learningRate: 0.05 });
    const tensors = tf.memory().numTensors;
    const buffers = tf.backend().numDataIds();
    for (let round = 0; round < 2; round++) {
      engine.setWeights(global);
      const result = await engine.train(data, { epochs: 1, batchSize: 10, learningRate: 0.05, random: seededRandomSource(round) });
      expect(Number.isFinite(result.metrics.loss)).toBe(true);
      expect(result.update.some((v) => v !== 0)).toBe(true);
      await engine.evaluate(data);
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(buffers);
    engine.dispose();
  });
});
