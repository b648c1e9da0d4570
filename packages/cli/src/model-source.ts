/**
 * Turns the config's model entry into what the server holds (topology, layout, flat
 * weights): a built-in paper model, a tfjs model.json on disk, or a factory function.
 */
import { FedkitError } from '@fedkit/protocol';
import { createMnist2nn, createMnistCnn, serializeModel } from '@fedkit/client-core';
import { loadTfjsModel, validateModel, type ModelDefinition } from '@fedkit/server';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ModelConfig } from './config-file.js';

/** Builds or loads the model. Built-ins and factories need a tfjs backend to be set up. */
export async function resolveModel(config: ModelConfig): Promise<ModelDefinition> {
  if (config.kind === 'path') return loadTfjsModel(config.path);
  const model: tfl.LayersModel =
    config.kind === 'builtin'
      ? config.name === 'mnist-2nn'
        ? createMnist2nn()
        : createMnistCnn()
      : await callFactory(config.factory);
  try {
    const serialized = serializeModel(model);
    const definition: ModelDefinition = { topology: serialized.topology, layout: serialized.layout, weights: serialized.weights };
    validateModel(definition);
    return definition;
  } finally {
    model.dispose();
  }
}

async function callFactory(factory: () => unknown): Promise<tfl.LayersModel> {
  let model: unknown;
  try {
    model = await factory();
  } catch (error) {
    throw new FedkitError('model-invalid', `the model factory threw: ${(error as Error).message}`);
  }
  const candidate = model as { getWeights?: unknown; toJSON?: unknown } | null;
  if (candidate === null || typeof candidate !== 'object' || typeof candidate.getWeights !== 'function' || typeof candidate.toJSON !== 'function') {
    throw new FedkitError('model-invalid', 'the model factory must return a tfjs LayersModel');
  }
  return model as tfl.LayersModel;
}
