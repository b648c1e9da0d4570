/**
 * What the protocol session needs from whatever trains locally. The session speaks the wire
 * protocol; a `LocalTrainer` turns global weights and a train config into an update. The
 * tfjs engine provides one (`engineTrainer`), and tests or other runtimes can bring their own.
 */
import type { ModelDescriptor, WireTrainConfig } from '@fedkit/protocol';

export interface TrainOutcome {
  /** local − global, flat float32 in the model's layout order. */
  update: Float32Array;
  /** Examples trained on (FedAvg's n_k). */
  numExamples: number;
  /** Training metrics: loss, accuracy, trainMs, ... (finite numbers only). */
  metrics: Record<string, number>;
}

export interface EvaluateOutcome {
  loss: number;
  accuracy: number;
  numExamples: number;
}

export interface TrainContext {
  round: number;
  /** Aborted when the deadline passes, the server goes away or the app stops the client. */
  signal: AbortSignal;
}

export interface LocalTrainer {
  /** Examples available for training, announced in the hello. */
  readonly numExamples: number;
  /** Held-out examples available for evaluation (0: never asked to evaluate). */
  readonly numEvalExamples: number;
  /** Called after each (re)join with the server's model description. */
  prepare(model: ModelDescriptor): Promise<void>;
  train(global: Float32Array, config: WireTrainConfig, context: TrainContext): Promise<TrainOutcome>;
  evaluate(global: Float32Array, config: { batchSize: number }, context: TrainContext): Promise<EvaluateOutcome>;
}
