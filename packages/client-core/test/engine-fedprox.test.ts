/**
 * FedProx in the training engine (Li et al. 2020): the proximal term μ/2·‖w − w_global‖²
 * has the right gradient (two full-batch SGD steps against a float64 hand computation on a
 * 2 → 3 softmax model), pulls local weights toward the global ones, leaves μ = 0 exactly as
 * plain SGD, leaks no tensors, gives the cpu backend's update on wasm, and reaches the
 * engine from the wire train config.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { FedkitError, seededRandomSource, type ModelDescriptor } from '@fedkit/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalDataset } from '../src/data/dataset.js';
import { serializeModel } from '../src/engine/serialize.js';
import { TrainingEngine } from '../src/engine/training-engine.js';
import { registerWasmMatMulGradients } from '../src/engine/wasm-matmul-gradients.js';
import { engineTrainer } from '../src/session/engine-trainer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const W0 = [0.1, -0.2, 0.3, 0.4, 0.05, -0.1, 0.01, 0.02, -0.03]; // W (2×3, row-major), then b (3)

function linearModel(): tfl.LayersModel {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ name: 'lin', inputShape: [2], units: 3, activation: 'softmax' })] });
  model.setWeights([tf.tensor2d(W0.slice(0, 6), [2, 3]), tf.tensor1d(W0.slice(6))]);
  return model;
}

const DATA: LocalDataset = {
  x: Float32Array.from([1, 0.5, -0.3, 0.8, 0.2, -1, 0.7, 0.1]),
  xShape: [2],
  y: Uint8Array.from([0, 2, 1, 2]),
  numClasses: 3,
  length: 4,
};

/** ∇ of the mean softmax cross-entropy over DATA at p = [W, b], in float64. */
function crossEntropyGradient(p: readonly number[]): number[] {
  const grad = new Array<number>(9).fill(0);
  for (let n = 0; n < DATA.length; n++) {
    const x = [DATA.x[2 * n]!, DATA.x[2 * n + 1]!];
    const logits = [0, 1, 2].map((k) => x[0]! * p[k]! + x[1]! * p[3 + k]! + p[6 + k]!);
    const exps = logits.map((v) => Math.exp(v - Math.max(...logits)));
    const sum = exps.reduce((a, b) => a + b, 0);
    for (let k = 0; k < 3; k++) {
      const g = (exps[k]! / sum - (DATA.y[n] === k ? 1 : 0)) / DATA.length;
      grad[k] = grad[k]! + x[0]! * g;
      grad[3 + k] = grad[3 + k]! + x[1]! * g;
      grad[6 + k] = grad[6 + k]! + g;
    }
  }
  return grad;
}

/** Two moons-ish blobs in 8 dimensions, and a small MLP: enough steps to drift. */
function blobs(n: number, seed: number): LocalDataset {
  const random = seededRandomSource(seed);
  const x = new Float32Array(n * 8);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    for (let j = 0; j < 8; j++) x[i * 8 + j] = (y[i] === 1 ? 0.8 : -0.8) + (random.nextFloat() - 0.5);
  }
  return { x, xShape: [8], y, numClasses: 2, length: n };
}

function mlp(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ name: 'h', inputShape: [8], units: 16, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.dense({ name: 'o', units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
}

const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('TrainingEngine with proximalMu (FedProx)', () => {
  it('adds μ·(w − w_global) to the gradient (two full-batch SGD steps, by hand)', async () => {
    // Step 1 starts at w_global, where the proximal gradient is 0: w1 = w0 − η·∇CE(w0).
    // Step 2: w2 = w1 − η·(∇CE(w1) + μ·(w1 − w0)).
    const eta = 0.5;
    const mu = 2;
    const g0 = crossEntropyGradient(W0);
    const w1 = W0.map((w, i) => w - eta * g0[i]!);
    const g1 = crossEntropyGradient(w1);
    const w2 = w1.map((w, i) => w - eta * (g1[i]! + mu * (w - W0[i]!)));
    const plain2 = w1.map((w, i) => w - eta * g1[i]!);

    const engine = TrainingEngine.fromModel(linearModel());
    const { update } = await engine.train(DATA, { epochs: 2, batchSize: null, learningRate: eta, shuffle: false, proximalMu: mu });
    engine.dispose();
    update.forEach((u, i) => expect(u, `weight ${i}`).toBeCloseTo(w2[i]! - W0[i]!, 6));
    // And the term mattered: the plain second step lands elsewhere.
    expect(Math.max(...w2.map((w, i) => Math.abs(w - plain2[i]!)))).toBeGreaterThan(1e-3);
  });

  it('pulls the local weights toward the global ones: ‖w − w_global‖ shrinks as μ grows (same seed)', async () => {
    // η·μ stays below 1: beyond 2 the proximal step overshoots w_global and diverges (as plain
    // SGD on the quadratic would).
    const data = blobs(64, 7);
    const drift = async (proximalMu: number): Promise<number> => {
      const engine = TrainingEngine.fromModel(mlp());
      const { update } = await engine.train(data, { epochs: 5, batchSize: 8, learningRate: 0.3, random: seededRandomSource(11), proximalMu });
      engine.dispose();
      return norm(update);
    };
    const [none, some, strong] = [await drift(0), await drift(0.5), await drift(2)];
    expect(some).toBeLessThan(none);
    expect(strong).toBeLessThan(some);
  });

  it('is plain SGD, bit for bit, with μ = 0', async () => {
    const data = blobs(32, 3);
    const run = async (extra: { proximalMu?: number }): Promise<Float32Array> => {
      const engine = TrainingEngine.fromModel(mlp());
      const { update } = await engine.train(data, { epochs: 2, batchSize: 8, learningRate: 0.2, random: seededRandomSource(5), ...extra });
      engine.dispose();
      return update;
    };
    expect(await run({ proximalMu: 0 })).toEqual(await run({}));
  });

  it('reports the data loss, not the data loss plus the proximal term', async () => {
    // With B = ∞ and one epoch the reported loss is the loss at w0, where the term is 0
    // anyway; with a second epoch it is the loss at w1, which must match plain SGD's at w1.
    const run = async (proximalMu: number): Promise<number> => {
      const engine = TrainingEngine.fromModel(linearModel());
      const { metrics } = await engine.train(DATA, { epochs: 2, batchSize: null, learningRate: 0.5, shuffle: false, proximalMu });
      engine.dispose();
      return metrics.loss;
    };
    expect(await run(100)).toBeCloseTo(await run(0), 6);
  });

  it('leaks no tensors, on success and on abort', async () => {
    const engine = TrainingEngine.fromModel(mlp());
    const data = blobs(32, 9);
    const global = engine.getWeights();
    await engine.train(data, { epochs: 1, batchSize: 8, learningRate: 0.1, proximalMu: 0.1 });
    engine.setWeights(global);
    const tensors = tf.memory().numTensors;
    for (let round = 0; round < 3; round++) {
      engine.setWeights(global);
      await engine.train(data, { epochs: 1, batchSize: 8, learningRate: 0.1, proximalMu: 0.1 });
      expect(tf.memory().numTensors).toBe(tensors);
    }
    const controller = new AbortController();
    controller.abort();
    await expect(engine.train(data, { epochs: 1, batchSize: 8, learningRate: 0.1, proximalMu: 0.1, signal: controller.signal })).rejects.toThrow(FedkitError);
    expect(tf.memory().numTensors).toBe(tensors);
    engine.dispose();
  });

  it("gives the cpu backend's update on wasm", async () => {
    setWasmPaths(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + '/');
    registerWasmMatMulGradients();
    const data = blobs(32, 13);
    const run = async (): Promise<Float32Array> => {
      const engine = TrainingEngine.fromModel(mlp());
      const { update } = await engine.train(data, { epochs: 2, batchSize: 8, learningRate: 0.3, shuffle: false, proximalMu: 0.5 });
      engine.dispose();
      return update;
    };
    const onCpu = await run();
    try {
      expect(await tf.setBackend('wasm')).toBe(true);
      const onWasm = await run();
      onWasm.forEach((u, i) => expect(u, `weight ${i}`).toBeCloseTo(onCpu[i]!, 5));
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('rejects a negative or non-finite μ before any work', async () => {
    const engine = TrainingEngine.fromModel(linearModel());
    await expect(engine.train(DATA, { epochs: 1, batchSize: null, learningRate: 0.1, proximalMu: -0.1 })).rejects.toThrow(/proximalMu must be a finite number ≥ 0, got -0.1/);
    await expect(engine.train(DATA, { epochs: 1, batchSize: null, learningRate: 0.1, proximalMu: Number.NaN })).rejects.toThrow(RangeError);
    expect(engine.getWeights()).toEqual(Float32Array.from(W0));
    engine.dispose();
  });
});

describe('engineTrainer and proximalMu', () => {
  // Built lazily: at collection time no backend is set yet (wasm, imported above, outranks cpu).
  const serialized = (): { descriptor: ModelDescriptor; weights: Float32Array } => {
    const { topology, layout, weights } = serializeModel(linearModel());
    return { descriptor: { topology, layout: layout.map((t) => ({ name: t.name, shape: [...t.shape] })), numParams: weights.length }, weights };
  };
  const context = { round: 1, signal: new AbortController().signal };
  const config = { epochs: 5, batchSize: null, learningRate: 0.5 };

  it('passes the train config’s proximalMu to the engine', async () => {
    const { descriptor, weights } = serialized();
    const trainer = engineTrainer({ train: DATA, random: seededRandomSource(1) });
    await trainer.prepare(descriptor);
    const plain = await trainer.train(weights, config, context);
    const prox = await trainer.train(weights, { ...config, proximalMu: 1 }, context);
    const nullMu = await trainer.train(weights, { ...config, proximalMu: null }, context);
    trainer.dispose();
    expect(norm(prox.update)).toBeLessThan(norm(plain.update));
    expect(nullMu.update).toEqual(plain.update);
  });

  it('refuses a proximalMu that is not a number', async () => {
    const { descriptor, weights } = serialized();
    const trainer = engineTrainer({ train: DATA });
    await trainer.prepare(descriptor);
    await expect(trainer.train(weights, { ...config, proximalMu: 'high' }, context)).rejects.toThrow(expect.objectContaining({ code: 'config-invalid' }));
    trainer.dispose();
  });
});
