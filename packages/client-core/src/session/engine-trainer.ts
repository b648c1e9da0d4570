/**
 * The bridge from the protocol session to the tfjs engine: a `LocalTrainer` that rebuilds
 * the server's model on join, loads each round's global weights, trains on the app's local
 * data and returns the update. Node and browser clients both use it; they differ only in
 * the backend they set up and where the data comes from.
 */
import { FedkitError, type ModelDescriptor, type RandomSource, type WireTrainConfig } from '@fedkit/protocol';
import type { LocalDataset } from '../data/dataset.js';
import { validateDataset } from '../data/dataset.js';
import { assertDatasetFitsModel } from '../engine/batches.js';
import { TrainingEngine } from '../engine/training-engine.js';
import type { TrainProgress } from '../engine/train-options.js';
import type { EvaluateOutcome, LocalTrainer, TrainContext, TrainOutcome } from './local-trainer.js';

export interface EngineTrainerOptions {
  /** Local training data. */
  train: LocalDataset;
  /** Local held-out data for federated evaluation. */
  test?: LocalDataset;
  /** Shuffling order source. @default cryptoRandomSource() (inside the engine) */
  random?: RandomSource;
  /** Called after every batch, with the round number. */
  onProgress?: (progress: TrainProgress & { round: number }) => void;
  /** Awaited before every batch (see TrainOptions.beforeBatch): lets an app pause training. */
  beforeBatch?: () => Promise<void>;
}

export interface EngineTrainer extends LocalTrainer {
  /** The engine of the current model, once the first welcome arrived. */
  readonly engine: TrainingEngine | null;
  dispose(): void;
}

/** A LocalTrainer over the tfjs TrainingEngine. Validates the data before any training. */
export function engineTrainer(options: EngineTrainerOptions): EngineTrainer {
  const train = validateDataset(options.train);
  const test = options.test === undefined ? undefined : validateDataset(options.test);
  let engine: TrainingEngine | null = null;
  let engineKey = '';
  return {
    numExamples: train.length,
    numEvalExamples: test?.length ?? 0,
    get engine() {
      return engine;
    },
    async prepare(model: ModelDescriptor): Promise<void> {
      if (model.topology === null) {
        throw new FedkitError('model-invalid', 'the server sent no model topology, and this client brings no model');
      }
      const key = JSON.stringify([model.topology, model.layout]);
      if (engine !== null && key === engineKey) return;
      engine?.dispose();
      engine = null;
      const next = await TrainingEngine.fromTopology(model.topology, model.layout);
      try {
        // Fail on join, not mid-round, when the data cannot feed this model.
        assertDatasetFitsModel(train, next.inputShape, next.numClasses);
      } catch (error) {
        next.dispose();
        throw error;
      }
      engine = next;
      engineKey = key;
    },
    async train(global: Float32Array, config: WireTrainConfig, context: TrainContext): Promise<TrainOutcome> {
      const current = requireEngine(engine);
      current.setWeights(global);
      const result = await current.train(train, {
        epochs: config.epochs,
        batchSize: config.batchSize,
        learningRate: config.learningRate,
        signal: context.signal,
        ...proximalOption(config),
        ...(options.random === undefined ? {} : { random: options.random }),
        ...(options.beforeBatch === undefined ? {} : { beforeBatch: options.beforeBatch }),
        ...(options.onProgress === undefined ? {} : { onProgress: (p: TrainProgress) => options.onProgress!({ ...p, round: context.round }) }),
      });
      return { update: result.update, numExamples: result.numExamples, metrics: { ...result.metrics } };
    },
    async evaluate(global: Float32Array, config: { batchSize: number }): Promise<EvaluateOutcome> {
      if (test === undefined) throw new FedkitError('data-invalid', 'this client has no held-out data to evaluate on');
      const current = requireEngine(engine);
      current.setWeights(global);
      return current.evaluate(test, { batchSize: config.batchSize });
    },
    dispose(): void {
      engine?.dispose();
      engine = null;
    },
  };
}

/**
 * FedProx's μ from the train config (`proximalMu`, set by the server's fedProx strategy);
 * absent or null means plain SGD. The engine checks the range. Exported for trainers that
 * drive a TrainingEngine themselves (the simulation's workers).
 */
export function proximalOption(config: WireTrainConfig): { proximalMu?: number } {
  const mu = config.proximalMu;
  if (mu === undefined || mu === null) return {};
  if (typeof mu !== 'number') throw new FedkitError('config-invalid', `train config proximalMu must be a number ≥ 0, got ${JSON.stringify(mu)}`);
  return { proximalMu: mu };
}

function requireEngine(engine: TrainingEngine | null): TrainingEngine {
  if (engine === null) throw new FedkitError('not-joined', 'no model yet: the client has not joined');
  return engine;
}
