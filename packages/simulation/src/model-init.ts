/**
 * The simulation's initial global model and its central evaluator. Built-in models are
 * initialized from a seed derived from the simulation seed, so the same config starts from
 * the same weights; a model.json is used as saved. The evaluator also checks, before any
 * client starts, that the data fits the model (input shape and number of classes).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { TrainingEngine, assertDatasetFitsModel, createMnist2nn, createMnistCnn, serializeModel, type LocalDataset } from '@fedkit/client-core';
import { FedkitError } from '@fedkit/protocol';
import { loadTfjsModel, type EvaluationMetrics, type ModelDefinition } from '@fedkit/server';
import type { ModelChoice } from './config.js';

/** Builds (seeded) or loads the initial model. `inputShape`/`numClasses` size the `linear` model. */
export async function initialModel(choice: ModelChoice, seed: number, inputShape: readonly number[], numClasses: number): Promise<ModelDefinition> {
  if (choice.kind === 'path') {
    try {
      return await loadTfjsModel(choice.path);
    } catch (error) {
      throw new FedkitError('config-invalid', `simulation config: field "model": ${(error as Error).message}`, { field: 'model' });
    }
  }
  const model =
    choice.name === '2nn'
      ? createMnist2nn({ seed })
      : choice.name === 'cnn'
        ? createMnistCnn({ seed })
        : linearModel(seed, inputShape, numClasses);
  try {
    const s = serializeModel(model);
    return { topology: s.topology, layout: s.layout, weights: s.weights };
  } finally {
    model.dispose();
  }
}

/** Softmax regression: the smallest model that learns, for tests and K = 1,000 runs. */
function linearModel(seed: number, inputShape: readonly number[], numClasses: number): tfl.Sequential {
  const flat = inputShape.reduce((a, b) => a * b, 1);
  return tfl.sequential({
    name: 'linear',
    layers: [
      tfl.layers.dense({
        name: 'linear_output', inputShape: [flat], units: numClasses, activation: 'softmax',
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
    ],
  });
}

export interface CentralEvaluator {
  evaluate(weights: Float32Array): Promise<EvaluationMetrics>;
  dispose(): void;
}

/** An evaluator of global weights on `test`; throws `config-invalid` if the data does not fit the model. */
export async function centralEvaluator(model: ModelDefinition, test: LocalDataset, batchSize: number): Promise<CentralEvaluator> {
  if (model.topology === null) throw new FedkitError('config-invalid', 'simulation config: field "model": the model has no topology');
  const engine = await TrainingEngine.fromTopology(model.topology, model.layout);
  try {
    assertDatasetFitsModel(test, engine.inputShape, engine.numClasses);
  } catch (error) {
    engine.dispose();
    throw new FedkitError('config-invalid', `simulation config: field "model" does not fit field "dataset": ${(error as Error).message}`, { field: 'model' });
  }
  return {
    async evaluate(weights) {
      engine.setWeights(weights);
      const r = await engine.evaluate(test, { batchSize });
      return { loss: r.loss, accuracy: r.accuracy, numExamples: r.numExamples };
    },
    dispose: () => engine.dispose(),
  };
}
