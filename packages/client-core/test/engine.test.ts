/**
 * TrainingEngine on the cpu backend: plain SGD against a hand-computed reference,
 * batching (B = ∞ included), seeded shuffling, validation before any work, abort, and no
 * tensor leaks across rounds.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { FedkitError, seededRandomSource } from '@fedkit/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalDataset } from '../src/data/dataset.js';
import { TrainingEngine } from '../src/engine/training-engine.js';
import { serializeModel } from '../src/engine/serialize.js';
import type { TrainProgress } from '../src/engine/train-options.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Softmax regression 2 → 3 with fixed weights: small enough to differentiate by hand. */
function linearModel(): tfl.LayersModel {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ name: 'lin', inputShape: [2], units: 3, activation: 'softmax' })] });
  model.setWeights([tf.tensor2d([0.1, -0.2, 0.3, 0.4, 0.05, -0.1], [2, 3]), tf.tensor1d([0.01, 0.02, -0.03])]);
  return model;
}

const LINEAR_DATA: LocalDataset = {
  x: Float32Array.from([1, 0.5, -0.3, 0.8, 0.2, -1, 0.7, 0.1]),
  xShape: [2],
  y: Uint8Array.from([0, 2, 1, 2]),
  numClasses: 3,
  length: 4,
};

/** Plain minibatch SGD on softmax cross-entropy, in float64, examples in order. */
function referenceSgd(w: number[], data: LocalDataset, batchSize: number, epochs: number, lr: number): number[] {
  const p = w.slice(); // [W (2x3 row-major), b (3)]
  for (let e = 0; e < epochs; e++) {
    for (let start = 0; start < data.length; start += batchSize) {
      const end = Math.min(data.length, start + batchSize);
      const grad = new Array<number>(9).fill(0);
      for (let n = start; n < end; n++) {
        const x = [data.x[2 * n]!, data.x[2 * n + 1]!];
        const logits = [0, 1, 2].map((k) => x[0]! * p[k]! + x[1]! * p[3 + k]! + p[6 + k]!);
        const max = Math.max(...logits);
        const exps = logits.map((v) => Math.exp(v - max));
        const sum = exps.reduce((a, b) => a + b, 0);
        for (let k = 0; k < 3; k++) {
          const g = (exps[k]! / sum - (data.y[n] === k ? 1 : 0)) / (end - start);
          grad[k] = grad[k]! + x[0]! * g;
          grad[3 + k] = grad[3 + k]! + x[1]! * g;
          grad[6 + k] = grad[6 + k]! + g;
        }
      }
      for (let i = 0; i < 9; i++) p[i] = p[i]! - lr * grad[i]!;
    }
  }
  return p.map((v, i) => v - w[i]!);
}

/** Two Gaussian blobs per class in 8 dimensions: learnable in a few steps. */
function blobs(n: number, seed: number, xShape: number[] = [8]): LocalDataset {
  const random = seededRandomSource(seed);
  const size = xShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n * size);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    for (let j = 0; j < size; j++) x[i * size + j] = (y[i] === 1 ? 0.8 : -0.8) + (random.nextFloat() - 0.5);
  }
  return { x, xShape, y, numClasses: 2, length: n };
}

function mlp(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ name: 'h', inputShape: [8], units: 16, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.dense({ name: 'o', units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
}

async function rejection(promise: Promise<unknown>): Promise<FedkitError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FedkitError);
    return error as FedkitError;
  }
  throw new Error('expected a rejection');
}

describe('TrainingEngine.train', () => {
  it('matches hand-computed minibatch SGD (B = 2, E = 2) and reports progress', async () => {
    const engine = TrainingEngine.fromModel(linearModel());
    const before = engine.getWeights();
    const progress: TrainProgress[] = [];
    const result = await engine.train(LINEAR_DATA, { epochs: 2, batchSize: 2, learningRate: 0.5, shuffle: false, onProgress: (p) => progress.push(p) });
    const expected = referenceSgd(Array.from(before), LINEAR_DATA, 2, 2, 0.5);
    expect(result.update.length).toBe(9);
    result.update.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    expect(result.numExamples).toBe(4);
    expect(progress.map((p) => [p.epoch, p.batch, p.batchesPerEpoch])).toEqual([[0, 0, 2], [0, 1, 2], [1, 0, 2], [1, 1, 2]]);
    // The model keeps the local weights: update = after - before.
    const after = engine.getWeights();
    after.forEach((v, i) => expect(v - before[i]!).toBeCloseTo(result.update[i]!, 6));
    engine.dispose();
  });

  it('treats batchSize null as one batch of the whole local set (B = ∞)', async () => {
    const engine = TrainingEngine.fromModel(linearModel());
    const before = Array.from(engine.getWeights());
    let batches = 0;
    const result = await engine.train(LINEAR_DATA, { epochs: 3, batchSize: null, learningRate: 0.1, onProgress: () => batches++ });
    expect(batches).toBe(3);
    const expected = referenceSgd(before, LINEAR_DATA, 4, 3, 0.1);
    result.update.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    engine.dispose();
  });

  it('learns, reports metrics, and shuffles reproducibly from the injected RandomSource', async () => {
    const data = blobs(64, 3);
    const run = async (seed: number): Promise<Awaited<ReturnType<TrainingEngine['train']>>> => {
      const engine = TrainingEngine.fromModel(mlp());
      try {
        return await engine.train(data, { epochs: 3, batchSize: 8, learningRate: 0.2, random: seededRandomSource(seed) });
      } finally {
        engine.dispose();
      }
    };
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(b.update).toEqual(a.update);
    expect(c.update).not.toEqual(a.update);
    expect(a.metrics.accuracy).toBeGreaterThan(0.9);
    expect(a.metrics.loss).toBeLessThan(0.3);
    expect(a.metrics.trainMs).toBeGreaterThan(0);
    expect(a.metrics.samplesPerSec).toBeGreaterThan(0);
  });

  it('validates options and data before training, naming the expected shape', async () => {
    const engine = TrainingEngine.fromModel(mlp());
    const weights = engine.getWeights();
    const opts = { epochs: 1, batchSize: 4, learningRate: 0.1 };
    await expect(engine.train(blobs(8, 1), { ...opts, epochs: 0 })).rejects.toThrow(RangeError);
    await expect(engine.train(blobs(8, 1), { ...opts, batchSize: 0 })).rejects.toThrow(RangeError);
    await expect(engine.train(blobs(8, 1), { ...opts, learningRate: 0 })).rejects.toThrow(RangeError);
    const wrongShape = await rejection(engine.train(blobs(8, 1, [9]), opts));
    expect(wrongShape.code).toBe('data-invalid');
    expect(wrongShape.message).toContain('[8]');
    const wrongClasses = await rejection(engine.train({ ...blobs(8, 1), numClasses: 3 }, opts));
    expect(wrongClasses.code).toBe('data-invalid');
    const badLabel = blobs(8, 1);
    badLabel.y[3] = 2;
    expect((await rejection(engine.train(badLabel, opts))).code).toBe('data-invalid');
    expect(engine.getWeights()).toEqual(weights);
    engine.dispose();
  });

  it('accepts flat examples for an image model ([36] for [6, 6, 1])', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ name: 'c', inputShape: [6, 6, 1], filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tfl.layers.flatten({ name: 'f' }),
        tfl.layers.dense({ name: 'o', units: 2, activation: 'softmax' }),
      ],
    });
    const engine = TrainingEngine.fromModel(model);
    expect(engine.inputShape).toEqual([6, 6, 1]);
    for (const xShape of [[36], [6, 6], [6, 6, 1]]) {
      const result = await engine.train(blobs(6, 2, xShape), { epochs: 1, batchSize: 3, learningRate: 0.1 });
      expect(result.update.length).toBe(engine.numParams);
    }
    const transposed = await rejection(engine.train(blobs(6, 2, [3, 12]), { epochs: 1, batchSize: 3, learningRate: 0.1 }));
    expect(transposed.message).toContain('[6,6,1]');
    engine.dispose();
  });

  it('stops between batches on abort and restores the weights from before the call', async () => {
    const engine = TrainingEngine.fromModel(mlp());
    const before = engine.getWeights();
    const controller = new AbortController();
    const error = await rejection(engine.train(blobs(32, 1), {
      epochs: 2, batchSize: 4, learningRate: 0.1, signal: controller.signal, onProgress: () => controller.abort(),
    }));
    expect(error.code).toBe('training-failed');
    expect(error.details).toMatchObject({ aborted: true });
    expect(engine.getWeights()).toEqual(before);
    engine.dispose();
  });

  it('yields to the event loop while training, so a timer can abort it', async () => {
    const engine = TrainingEngine.fromModel(mlp());
    const started = performance.now();
    const error = await rejection(engine.train(blobs(64, 1), { epochs: 200, batchSize: 1, learningRate: 0.01, signal: AbortSignal.timeout(20) }));
    expect(error.details).toMatchObject({ aborted: true });
    expect(performance.now() - started).toBeLessThan(2000);
    engine.dispose();
  });

  it('fails with training-failed when the loss is not finite', async () => {
    const engine = TrainingEngine.fromModel(linearModel());
    // Logits overflow to Infinity, so softmax gives NaN.
    engine.setWeights(new Float32Array(9).fill(3e38));
    const error = await rejection(engine.train(LINEAR_DATA, { epochs: 1, batchSize: null, learningRate: 1 }));
    expect(error.code).toBe('training-failed');
    expect(error.message).toMatch(/loss became NaN/);
    engine.dispose();
  });

  it('refuses a second concurrent run', async () => {
    const engine = TrainingEngine.fromModel(mlp());
    const first = engine.train(blobs(16, 1), { epochs: 1, batchSize: 4, learningRate: 0.1 });
    expect((await rejection(engine.train(blobs(16, 1), { epochs: 1, batchSize: 4, learningRate: 0.1 }))).code).toBe('training-failed');
    await first;
    engine.dispose();
  });
});

describe('TrainingEngine.evaluate and lifecycle', () => {
  it('computes mean loss and accuracy in batches', async () => {
    const engine = TrainingEngine.fromModel(linearModel());
    const weights = Array.from(engine.getWeights());
    let loss = 0;
    let correct = 0;
    for (let n = 0; n < 4; n++) {
      const x = [LINEAR_DATA.x[2 * n]!, LINEAR_DATA.x[2 * n + 1]!];
      const logits = [0, 1, 2].map((k) => x[0]! * weights[k]! + x[1]! * weights[3 + k]! + weights[6 + k]!);
      const sum = logits.reduce((a, v) => a + Math.exp(v), 0);
      loss -= Math.log(Math.exp(logits[LINEAR_DATA.y[n]!]!) / sum) / 4;
      if (logits.indexOf(Math.max(...logits)) === LINEAR_DATA.y[n]) correct++;
    }
    const result = await engine.evaluate(LINEAR_DATA, { batchSize: 3 });
    expect(result.numExamples).toBe(4);
    expect(result.loss).toBeCloseTo(loss, 5);
    expect(result.accuracy).toBe(correct / 4);
    engine.dispose();
  });

  it('leaks no tensors across rounds of setWeights, train, evaluate and abort', async () => {
    const { topology, layout, weights } = serializeModel(mlp());
    const engine = await TrainingEngine.fromTopology(topology, layout);
    const data = blobs(24, 4);
    engine.setWeights(weights);
    await engine.train(data, { epochs: 1, batchSize: 8, learningRate: 0.1 });
    const tensors = tf.memory().numTensors;
    for (let round = 0; round < 3; round++) {
      engine.setWeights(weights);
      await engine.train(data, { epochs: 2, batchSize: round === 2 ? null : 5, learningRate: 0.1 });
      await engine.evaluate(data, { batchSize: 7 });
      const controller = new AbortController();
      await rejection(engine.train(data, { epochs: 1, batchSize: 4, learningRate: 0.1, signal: controller.signal, onProgress: () => controller.abort() }));
      expect(tf.memory().numTensors).toBe(tensors);
    }
    engine.dispose();
    expect(() => engine.getWeights()).toThrow(FedkitError);
  });

  it('refuses a layout that does not fit the topology', async () => {
    const { topology, layout } = serializeModel(mlp());
    await expect(TrainingEngine.fromTopology(topology, [...layout].reverse())).rejects.toMatchObject({ code: 'model-invalid' });
  });
});
