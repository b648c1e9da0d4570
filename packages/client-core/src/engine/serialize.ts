/**
 * Moving a model between processes: the server sends the keras-style topology JSON once and
 * the weights as one flat `Float32Array` (see `model-weights.ts`). Topology is plain JSON
 * data so it can travel in any message; tfjs-layers rebuilds the model from it.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { FedkitError, assertSameLayout } from '@fedkit/protocol';
import type { WeightsLayout } from '@fedkit/protocol';
import { getFlatWeights, getWeightsLayout, setFlatWeights } from './model-weights.js';

/** A model as data: keras topology JSON, weights layout and flat weights. */
export interface SerializedModel {
  /** `model.toJSON()` parsed: `{ class_name, config, keras_version, backend }`. */
  topology: Record<string, unknown>;
  layout: WeightsLayout;
  weights: Float32Array;
}

/** Snapshots a model's topology, layout and weights (the weights are a copy). */
export function serializeModel(model: tfl.LayersModel): SerializedModel {
  const topology = JSON.parse(model.toJSON(null, true) as string) as Record<string, unknown>;
  return { topology, layout: getWeightsLayout(model), weights: getFlatWeights(model) };
}

/**
 * Rebuilds a model from its topology; its weights are freshly initialized. Throws
 * `model-invalid` when tfjs cannot read the topology, and when `layout` is given and does
 * not match the rebuilt model.
 */
export async function modelFromTopology(topology: Record<string, unknown>, layout?: WeightsLayout): Promise<tfl.LayersModel> {
  if (topology === null || typeof topology !== 'object' || Array.isArray(topology)) {
    throw new TypeError('model topology must be a JSON object');
  }
  let model: tfl.LayersModel;
  try {
    model = await tfl.models.modelFromJSON({ modelTopology: topology } as Parameters<typeof tfl.models.modelFromJSON>[0]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new FedkitError('model-invalid', `cannot build a model from the topology: ${message}`);
  }
  if (layout !== undefined) {
    try {
      assertSameLayout(getWeightsLayout(model), layout, 'layout');
    } catch (error) {
      model.dispose();
      const message = error instanceof Error ? error.message : String(error);
      throw new FedkitError('model-invalid', `topology and layout disagree: ${message}`);
    }
  }
  return model;
}

/** Rebuilds a model and loads its weights: the inverse of `serializeModel`. */
export async function deserializeModel(serialized: SerializedModel): Promise<tfl.LayersModel> {
  const model = await modelFromTopology(serialized.topology, serialized.layout);
  try {
    setFlatWeights(model, serialized.weights, serialized.layout);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
