/**
 * The tfjs boundary for parameters. Everything above the engine works on one flat
 * `Float32Array` plus a layout (see `@fedkit/protocol` weights); these helpers convert a
 * tfjs-layers model's variables to and from that form. Layout names are the variables'
 * `originalName`: tfjs appends `_1`, `_2`, ... to `name` when a process builds the same
 * model twice, which would make layouts differ between processes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { FedkitError, assertSameLayout, layoutSize, tensorSize } from '@fedkit/protocol';
import type { TensorSpec, WeightsLayout } from '@fedkit/protocol';

/**
 * The model's weights layout, in `model.weights` order: `[{ name: 'cnn_conv1/kernel',
 * shape: [5, 5, 1, 32] }, ...]`.
 */
export function getWeightsLayout(model: LayersModel): TensorSpec[] {
  return model.weights.map((w) => ({ name: w.originalName, shape: [...w.shape] as number[] }));
}

/** Copies all of the model's weights into one new flat array, in layout order. */
export function getFlatWeights(model: LayersModel): Float32Array {
  const out = new Float32Array(layoutSize(getWeightsLayout(model)));
  let offset = 0;
  for (const w of model.weights) {
    // read() returns the variable itself: nothing to dispose.
    const values = w.read().dataSync() as Float32Array;
    out.set(values, offset);
    offset += values.length;
  }
  return out;
}

/**
 * `getFlatWeights` through tfjs's asynchronous reads. On WebGPU a synchronous read goes
 * through a canvas and can return zeros (SwiftShader does); `data()` is correct everywhere.
 */
export async function readFlatWeights(model: LayersModel): Promise<Float32Array> {
  const out = new Float32Array(layoutSize(getWeightsLayout(model)));
  const values = await Promise.all(model.weights.map((w) => w.read().data() as Promise<Float32Array>));
  let offset = 0;
  for (const v of values) {
    out.set(v, offset);
    offset += v.length;
  }
  return out;
}

/**
 * Loads flat weights into the model. When `layout` is given it must match the model's
 * layout tensor by tensor (`update-shape-mismatch` names the first difference); `data` must
 * hold exactly `layoutSize` floats (`update-size-mismatch`). The values are copied, so the
 * caller may reuse `data` afterwards.
 */
export function setFlatWeights(model: LayersModel, data: Float32Array, layout?: WeightsLayout): void {
  if (!(data instanceof Float32Array)) throw new TypeError('weights must be a Float32Array');
  const expected = getWeightsLayout(model);
  if (layout !== undefined) assertSameLayout(expected, layout, 'weights');
  const size = layoutSize(expected);
  if (data.length !== size) {
    throw new FedkitError(
      'update-size-mismatch',
      `weights have ${data.length} floats, model "${model.name}" expects ${size}`,
    );
  }
  tf.tidy(() => {
    let offset = 0;
    const tensors = expected.map((spec) => {
      const n = tensorSize(spec);
      // slice, not subarray: the cpu backend keeps the array it is given by reference.
      const t = tf.tensor(data.slice(offset, offset + n), spec.shape, 'float32');
      offset += n;
      return t;
    });
    // Variables take their own reference to each tensor's data; tidy drops ours.
    model.setWeights(tensors);
  });
}

/** Elementwise `after - before` into a new array (the update a client uploads). */
export function subtractWeights(after: Float32Array, before: Float32Array): Float32Array {
  if (after.length !== before.length) {
    throw new FedkitError('update-size-mismatch', `cannot subtract ${before.length} floats from ${after.length}`);
  }
  const out = new Float32Array(after.length);
  for (let i = 0; i < out.length; i++) out[i] = after[i]! - before[i]!;
  return out;
}
