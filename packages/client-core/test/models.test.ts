/**
 * The paper's models have the published parameter counts and stable layouts, and models
 * survive the trip through topology JSON plus flat weights unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { FedkitError, layoutSize } from '@fedkit/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { MNIST_2NN_PARAMS, MNIST_CNN_PARAMS, createMnist2nn, createMnistCnn } from '../src/models/mcmahan.js';
import { getFlatWeights, getWeightsLayout, setFlatWeights } from '../src/engine/model-weights.js';
import { deserializeModel, modelFromTopology, serializeModel } from '../src/engine/serialize.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FedkitError);
    expect((error as FedkitError).code).toBe(code);
    return;
  }
  throw new Error(`expected a FedkitError ${code}`);
}

describe('McMahan et al. models', () => {
  it('2NN has 199,210 parameters in four named tensors', () => {
    const model = createMnist2nn();
    expect(model.countParams()).toBe(MNIST_2NN_PARAMS);
    expect(MNIST_2NN_PARAMS).toBe(199_210);
    expect(getWeightsLayout(model)).toEqual([
      { name: '2nn_hidden1/kernel', shape: [784, 200] },
      { name: '2nn_hidden1/bias', shape: [200] },
      { name: '2nn_hidden2/kernel', shape: [200, 200] },
      { name: '2nn_hidden2/bias', shape: [200] },
      { name: '2nn_output/kernel', shape: [200, 10] },
      { name: '2nn_output/bias', shape: [10] },
    ]);
    model.dispose();
  });

  it('CNN (same padding) has 1,663,370 parameters and takes [28, 28, 1]', () => {
    const model = createMnistCnn();
    expect(model.countParams()).toBe(MNIST_CNN_PARAMS);
    expect(MNIST_CNN_PARAMS).toBe(1_663_370);
    expect(model.inputs[0]!.shape).toEqual([null, 28, 28, 1]);
    const layout = getWeightsLayout(model);
    expect(layoutSize(layout)).toBe(1_663_370);
    expect(layout.map((t) => t.name)).toEqual([
      'cnn_conv1/kernel', 'cnn_conv1/bias', 'cnn_conv2/kernel', 'cnn_conv2/bias',
      'cnn_dense/kernel', 'cnn_dense/bias', 'cnn_output/kernel', 'cnn_output/bias',
    ]);
    model.dispose();
  });

  it('keeps layout names when a process builds the same model twice', () => {
    const a = createMnist2nn();
    const b = createMnist2nn();
    // tfjs renames the second model's variables ("..._1"); the layout must not change.
    expect(getWeightsLayout(b)).toEqual(getWeightsLayout(a));
    a.dispose();
    b.dispose();
  });

  it('is reproducible with a seed', () => {
    const a = createMnist2nn({ seed: 7 });
    const b = createMnist2nn({ seed: 7 });
    const c = createMnist2nn({ seed: 8 });
    expect(getFlatWeights(b)).toEqual(getFlatWeights(a));
    expect(getFlatWeights(c)).not.toEqual(getFlatWeights(a));
    for (const m of [a, b, c]) m.dispose();
  });
});

describe('flat weights and serialization', () => {
  it('round-trips flat weights, copying the caller array', () => {
    const model = createMnist2nn();
    const flat = Float32Array.from({ length: MNIST_2NN_PARAMS }, (_, i) => (i % 97) / 97 - 0.5);
    setFlatWeights(model, flat, getWeightsLayout(model));
    const expected = flat.slice();
    flat.fill(0);
    expect(getFlatWeights(model)).toEqual(expected);
    model.dispose();
  });

  it('rejects a wrong size or layout with a coded error', () => {
    const model = createMnist2nn();
    const layout = getWeightsLayout(model);
    expectCode(() => setFlatWeights(model, new Float32Array(10)), 'update-size-mismatch');
    const renamed = layout.map((t, i) => (i === 2 ? { ...t, name: 'other/kernel' } : t));
    expectCode(() => setFlatWeights(model, new Float32Array(MNIST_2NN_PARAMS), renamed), 'update-shape-mismatch');
    expect(() => setFlatWeights(model, [1, 2] as unknown as Float32Array)).toThrow(TypeError);
    model.dispose();
  });

  it('rebuilds a model from topology + flat weights with identical predictions', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const original = createMnist2nn();
    const serialized = serializeModel(original);
    // Topology is plain JSON: it must survive a real JSON round trip.
    const topology = JSON.parse(JSON.stringify(serialized.topology)) as Record<string, unknown>;
    const rebuilt = await deserializeModel({ ...serialized, topology });
    expect(getWeightsLayout(rebuilt)).toEqual(serialized.layout);
    expect(getFlatWeights(rebuilt)).toEqual(serialized.weights);
    const [p1, p2] = tf.tidy(() => {
      const x = tf.randomUniform([3, 784]);
      return [original.predict(x) as tf.Tensor, rebuilt.predict(x) as tf.Tensor].map((t) => t.dataSync());
    });
    expect(p2).toEqual(p1);
    original.dispose();
    rebuilt.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('refuses an unreadable topology or a layout it does not match (model-invalid)', async () => {
    await expect(modelFromTopology({ class_name: 'NoSuchModel', config: {} })).rejects.toMatchObject({ code: 'model-invalid' });
    const model = createMnist2nn();
    const { topology, layout } = serializeModel(model);
    model.dispose();
    await expect(modelFromTopology(topology, layout.slice(1))).rejects.toMatchObject({ code: 'model-invalid' });
  });
});
