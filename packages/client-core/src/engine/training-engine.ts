/**
 * Local training for one client: plain SGD on categorical cross-entropy with a custom
 * `optimizer.minimize` loop (faster than `model.fit` on cpu and wasm; REFERENCE §4), over
 * whatever tfjs backend the platform package selected. Parameters enter and leave as flat
 * `Float32Array`s; the update returned is `local - global`, which is what FedAvg averages
 * and what clipping and secure aggregation operate on. Every batch runs inside `tf.tidy`.
 * With FedProx's `proximalMu` the loss gains μ/2·‖w − w_global‖², in the same tidy.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FedkitError, cryptoRandomSource, layoutSize } from '@fedkit/protocol';
import type { RandomSource, WeightsLayout } from '@fedkit/protocol';
import type { LocalDataset } from '../data/dataset.js';
import { assertDatasetFitsModel, exampleOrder, gatherBatch } from './batches.js';
import { getFlatWeights, getWeightsLayout, readFlatWeights, setFlatWeights, subtractWeights } from './model-weights.js';
import { modelFromTopology } from './serialize.js';
import { assertTrainOptions, crossEntropy, modelSignature } from './train-options.js';
import type { EvaluateOptions, EvaluateResult, TrainOptions, TrainResult } from './train-options.js';

/** Yield to the event loop at least this often, so abort signals and sockets get a turn. */
const YIELD_EVERY_MS = 50;
const DEFAULT_EVAL_BATCH_SIZE = 256;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** FedProx's proximal term for one training run: μ and a copy of each trainable weight at the start. */
interface Proximal {
  mu: number;
  anchors: tf.Tensor[];
}

/**
 * Trains and evaluates one tfjs-layers model whose output is a softmax over classes.
 *
 * @example
 * const engine = await TrainingEngine.fromTopology(topology, layout);
 * engine.setWeights(globalWeights);
 * const { update, numExamples } = await engine.train(data, { epochs: 1, batchSize: 10, learningRate: 0.1 });
 * engine.dispose();
 */
export class TrainingEngine {
  /** The weights layout of the model, in `model.weights` order. */
  readonly layout: WeightsLayout;
  /** Per-example input shape, e.g. `[28, 28, 1]`. */
  readonly inputShape: readonly number[];
  /** Number of output classes. */
  readonly numClasses: number;
  private readonly model: tfl.LayersModel;
  private busy = false;
  private disposed = false;

  private constructor(model: tfl.LayersModel) {
    const { inputShape, numClasses } = modelSignature(model);
    this.model = model;
    this.inputShape = inputShape;
    this.numClasses = numClasses;
    this.layout = getWeightsLayout(model);
  }

  /** Wraps a model; the engine owns it from now on and disposes it in `dispose()`. */
  static fromModel(model: tfl.LayersModel): TrainingEngine {
    return new TrainingEngine(model);
  }

  /** Builds the model from keras topology JSON; throws `model-invalid` if `layout` disagrees. */
  static async fromTopology(topology: Record<string, unknown>, layout: WeightsLayout): Promise<TrainingEngine> {
    const model = await modelFromTopology(topology, layout);
    try {
      return new TrainingEngine(model);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }

  /** Loads the global weights (copied). Throws `update-size-mismatch` on a wrong length. */
  setWeights(flat: Float32Array): void {
    this.assertUsable();
    setFlatWeights(this.model, flat, this.layout);
  }

  /** A copy of the current weights. */
  getWeights(): Float32Array {
    this.assertUsable();
    return getFlatWeights(this.model);
  }

  /**
   * Runs `epochs` passes of minibatch SGD from the current weights. Returns the update
   * (weights after minus weights before this call) and the last epoch's mean loss and
   * accuracy. The model keeps the trained weights; call `setWeights` before the next round.
   * On abort or failure the weights from before the call are restored and a
   * `training-failed` FedkitError is thrown (`details.aborted` is true for an abort).
   */
  async train(data: LocalDataset, options: TrainOptions): Promise<TrainResult> {
    this.assertUsable();
    assertTrainOptions(options);
    assertDatasetFitsModel(data, this.inputShape, this.numClasses);
    if (this.busy) throw new FedkitError('training-failed', 'this engine is already training or evaluating');
    this.busy = true;
    const before = await readFlatWeights(this.model);
    const optimizer = tf.train.sgd(options.learningRate);
    try {
      return await this.runEpochs(data, options, optimizer, before);
    } catch (error) {
      setFlatWeights(this.model, before);
      if (error instanceof FedkitError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new FedkitError('training-failed', `training failed: ${message}`);
    } finally {
      optimizer.dispose();
      this.busy = false;
    }
  }

  private async runEpochs(data: LocalDataset, options: TrainOptions, optimizer: tf.Optimizer, before: Float32Array): Promise<TrainResult> {
    const variables = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const mu = options.proximalMu ?? 0;
    // μ = 0 takes the plain path: no anchors, the same graph as without FedProx.
    const proximal: Proximal | null = mu > 0 ? { mu, anchors: tf.tidy(() => variables.map((v) => v.clone())) } : null;
    try {
      return await this.epochLoop(data, options, optimizer, before, variables, proximal);
    } finally {
      proximal?.anchors.forEach((t) => t.dispose());
    }
  }

  private async epochLoop(
    data: LocalDataset,
    options: TrainOptions,
    optimizer: tf.Optimizer,
    before: Float32Array,
    variables: tf.Variable[],
    proximal: Proximal | null,
  ): Promise<TrainResult> {
    const batchSize = options.batchSize ?? data.length;
    const batchesPerEpoch = Math.ceil(data.length / batchSize);
    const random: RandomSource | null = options.shuffle === false ? null : (options.random ?? cryptoRandomSource());
    const started = performance.now();
    let lastYield = started;
    let lossSum = 0;
    let correct = 0;
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const order = exampleOrder(data.length, random);
      lossSum = 0;
      correct = 0;
      for (let batch = 0; batch < batchesPerEpoch; batch++) {
        if (performance.now() - lastYield > YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
        if (options.beforeBatch !== undefined) {
          await options.beforeBatch();
          lastYield = performance.now();
        }
        if (options.signal?.aborted) {
          throw new FedkitError('training-failed', `training aborted at epoch ${epoch}, batch ${batch}`, { aborted: true });
        }
        const start = batch * batchSize;
        const stats = await this.trainBatch(gatherBatch(data, order, start, Math.min(data.length, start + batchSize)), optimizer, variables, proximal);
        if (!Number.isFinite(stats.loss)) {
          throw new FedkitError(
            'training-failed',
            `loss became ${stats.loss} at epoch ${epoch}, batch ${batch} (learningRate ${options.learningRate} may be too high)`,
          );
        }
        lossSum += stats.loss * stats.size;
        correct += stats.correct;
        options.onProgress?.({ epoch, batch, batchesPerEpoch, loss: stats.loss });
      }
    }
    const trainMs = performance.now() - started;
    const update = subtractWeights(await readFlatWeights(this.model), before);
    return {
      update,
      numExamples: data.length,
      metrics: {
        loss: lossSum / data.length,
        accuracy: correct / data.length,
        trainMs,
        samplesPerSec: (data.length * options.epochs) / (trainMs / 1000),
      },
    };
  }

  private async trainBatch(
    batch: ReturnType<typeof gatherBatch>,
    optimizer: tf.Optimizer,
    variables: tf.Variable[],
    proximal: Proximal | null,
  ): Promise<{ loss: number; correct: number; size: number }> {
    const kept: { probs?: tf.Tensor; dataLoss?: tf.Scalar } = {};
    try {
      const stats = tf.tidy(() => {
        const xs = tf.tensor(batch.x, [batch.size, ...this.inputShape], 'float32');
        const ys = tf.tensor2d(batch.oneHot, [batch.size, this.numClasses], 'float32');
        const cost = optimizer.minimize(() => {
          const probs = this.model.apply(xs, { training: true }) as tf.Tensor;
          // Kept past the gradient scope's own tidy, to count correct answers without a second forward pass.
          kept.probs = tf.keep(probs);
          const loss = crossEntropy(ys, probs);
          if (proximal === null) return loss;
          kept.dataLoss = tf.keep(loss);
          const squares = variables.map((v, j) => tf.sum(tf.square(tf.sub(v, proximal.anchors[j]!))));
          return tf.add(loss, tf.mul(tf.addN(squares), proximal.mu / 2)) as tf.Scalar;
        }, true, variables) as tf.Scalar;
        const hits = tf.sum(tf.cast(tf.equal(tf.argMax(kept.probs!, 1), tf.argMax(ys, 1)), 'float32'));
        return tf.stack([kept.dataLoss ?? cost, hits]);
      });
      // An asynchronous read: WebGPU's synchronous one is slow and, on SwiftShader, wrong.
      const [loss, correct] = await stats.data();
      stats.dispose();
      return { loss: loss!, correct: correct!, size: batch.size };
    } finally {
      kept.probs?.dispose();
      kept.dataLoss?.dispose();
    }
  }

  /** Mean loss and accuracy of the current weights on `data`, in batches of `batchSize`. */
  async evaluate(data: LocalDataset, options: EvaluateOptions = {}): Promise<EvaluateResult> {
    this.assertUsable();
    const batchSize = options.batchSize ?? DEFAULT_EVAL_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    assertDatasetFitsModel(data, this.inputShape, this.numClasses);
    if (this.busy) throw new FedkitError('training-failed', 'this engine is already training or evaluating');
    this.busy = true;
    try {
      const order = exampleOrder(data.length, null);
      let lossSum = 0;
      let correct = 0;
      let lastYield = performance.now();
      for (let start = 0; start < data.length; start += batchSize) {
        if (performance.now() - lastYield > YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
        const batch = gatherBatch(data, order, start, Math.min(data.length, start + batchSize));
        const stats = tf.tidy(() => {
          const xs = tf.tensor(batch.x, [batch.size, ...this.inputShape], 'float32');
          const ys = tf.tensor2d(batch.oneHot, [batch.size, this.numClasses], 'float32');
          const probs = this.model.apply(xs, { training: false }) as tf.Tensor;
          const hits = tf.sum(tf.cast(tf.equal(tf.argMax(probs, 1), tf.argMax(ys, 1)), 'float32'));
          return tf.stack([tf.mul(crossEntropy(ys, probs), batch.size), hits]);
        });
        const [loss, hits] = await stats.data();
        stats.dispose();
        lossSum += loss!;
        correct += hits!;
      }
      return { loss: lossSum / data.length, accuracy: correct / data.length, numExamples: data.length };
    } finally {
      this.busy = false;
    }
  }

  /** Number of parameters (floats in a flat weights array). */
  get numParams(): number {
    return layoutSize(this.layout);
  }

  /** Frees the model's variables. The engine cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }

  private assertUsable(): void {
    if (this.disposed) throw new FedkitError('model-invalid', 'the training engine was disposed');
  }
}
