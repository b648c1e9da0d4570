/**
 * The engine's option and result types, their validation, and the small pieces of tensor
 * math it shares between training and evaluation (the loss, the model's signature). Kept
 * apart from `training-engine.ts` so the loop there reads top to bottom.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FedkitError } from '@fedkit/protocol';
import type { RandomSource } from '@fedkit/protocol';

/** Progress after each batch. */
export interface TrainProgress {
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  /** Mean loss of this batch. */
  loss: number;
}

/** Options of one local training run (the paper's E, B and η). */
export interface TrainOptions {
  /** Passes over the local data (E), an integer ≥ 1. */
  epochs: number;
  /** Examples per SGD step (B); `null` means the whole local set is one batch (B = ∞). */
  batchSize: number | null;
  /** SGD step size (η), > 0. */
  learningRate: number;
  /** Reshuffle the examples every epoch. @default true */
  shuffle?: boolean;
  /** Source of the shuffling order. @default cryptoRandomSource() */
  random?: RandomSource;
  /** Called after every batch. */
  onProgress?: (progress: TrainProgress) => void;
  /** Checked between batches; an abort throws `training-failed` with `details.aborted`. */
  signal?: AbortSignal;
  /**
   * Awaited before every batch when given: an app's pause holds training here (a browser
   * client's pause button) until the promise settles. The abort signal is checked after it.
   */
  beforeBatch?: () => Promise<void>;
  /**
   * FedProx's μ ≥ 0 (Li et al. 2020): adds μ/2·‖w − w_global‖² over the trainable weights to
   * each batch's loss, w_global being the weights when `train` was called. 0 or absent is
   * plain SGD, computed exactly as without it. The reported loss stays the data loss.
   * @default 0
   */
  proximalMu?: number;
}

export interface TrainMetrics {
  /** Mean training loss over the last epoch. */
  loss: number;
  /** Training accuracy over the last epoch, in [0, 1]. */
  accuracy: number;
  /** Wall time of the training loop, in milliseconds. */
  trainMs: number;
  /** Examples processed per second (all epochs). */
  samplesPerSec: number;
}

export interface TrainResult {
  /** Weights after training minus weights before, flat in layout order. */
  update: Float32Array;
  /** Local examples (n_k, the FedAvg weight). */
  numExamples: number;
  metrics: TrainMetrics;
}

export interface EvaluateOptions {
  /** Examples per forward pass. @default 256 */
  batchSize?: number;
}

export interface EvaluateResult {
  loss: number;
  accuracy: number;
  numExamples: number;
}

/** Validates train options once, before any work: `RangeError`/`TypeError` name the value. */
export function assertTrainOptions(options: TrainOptions): void {
  const { epochs, batchSize, learningRate } = options;
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`epochs must be an integer ≥ 1, got ${epochs}`);
  if (batchSize !== null && (!Number.isInteger(batchSize) || batchSize < 1)) {
    throw new RangeError(`batchSize must be a positive integer or null (whole set), got ${batchSize}`);
  }
  if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate <= 0) {
    throw new RangeError(`learningRate must be a finite number > 0, got ${learningRate}`);
  }
  const mu = options.proximalMu;
  if (mu !== undefined && (typeof mu !== 'number' || !Number.isFinite(mu) || mu < 0)) {
    throw new RangeError(`proximalMu must be a finite number ≥ 0, got ${mu}`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new TypeError('onProgress must be a function');
  }
}

/** Clip probabilities as Keras does, so log() stays finite. */
const EPSILON = 1e-7;

/** Mean categorical cross-entropy of softmax outputs `probs` against one-hot `oneHot`. */
export function crossEntropy(oneHot: tf.Tensor, probs: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const logP = tf.log(tf.clipByValue(probs, EPSILON, 1 - EPSILON));
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logP), -1))) as tf.Scalar;
  });
}

/**
 * Per-example input shape and class count of a single-input model whose output is
 * `[batch, classes]`. Throws `model-invalid` for anything else.
 */
export function modelSignature(model: tfl.LayersModel): { inputShape: number[]; numClasses: number } {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new FedkitError('model-invalid', `model "${model.name}" must have one input and one output`);
  }
  const inShape = model.inputs[0]!.shape;
  const outShape = model.outputs[0]!.shape;
  const inputShape = inShape.slice(1);
  if (!inputShape.every((d): d is number => typeof d === 'number' && d > 0)) {
    throw new FedkitError('model-invalid', `model "${model.name}" input shape [${inShape.join(',')}] must be fixed apart from the batch`);
  }
  const classes = outShape[1];
  if (outShape.length !== 2 || typeof classes !== 'number' || classes < 2) {
    throw new FedkitError('model-invalid', `model "${model.name}" output shape [${outShape.join(',')}] must be [batch, classes ≥ 2]`);
  }
  return { inputShape, numClasses: classes };
}
