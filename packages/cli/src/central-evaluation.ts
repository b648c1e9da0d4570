/**
 * Server-side evaluation on a central test set (MNIST's 10,000 test images), run in the
 * server's process after each round: the "test accuracy" of the paper's curves.
 */
import { TrainingEngine, type LocalDataset } from '@fedkit/client-core';
import { loadMnist } from '@fedkit/client-node';
import type { EvaluationMetrics, ModelDefinition } from '@fedkit/server';

export interface CentralEvaluator {
  evaluate(weights: Float32Array): Promise<EvaluationMetrics>;
  dispose(): void;
}

export async function createCentralEvaluator(model: ModelDefinition, options: { limit?: number }): Promise<CentralEvaluator> {
  if (model.topology === null) throw new TypeError('central evaluation needs the model topology');
  const data: LocalDataset = await loadMnist({ split: 'test', ...(options.limit === undefined ? {} : { limit: options.limit }) });
  const engine = await TrainingEngine.fromTopology(model.topology, model.layout);
  return {
    async evaluate(weights) {
      engine.setWeights(weights);
      const result = await engine.evaluate(data, { batchSize: 1000 });
      return { loss: result.loss, accuracy: result.accuracy, numExamples: result.numExamples };
    },
    dispose: () => engine.dispose(),
  };
}
