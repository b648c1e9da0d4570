/**
 * The streaming, example-weighted mean of client updates that FedAvg and every server
 * optimizer built on it (FedAvgM, FedAdam, FedYogi, FedAdagrad, FedProx) start from:
 * `Δ = Σ_k n_k Δ_k / Σ_k n_k` over the clients that replied.
 *
 * Each reply is folded into one running float32 sum as it arrives and then forgotten, so a
 * round holds O(model size) memory whatever the number of clients. What a strategy does
 * with the sum (add it to the global weights, or hand it to a server optimizer) happens
 * once, in `closeWeightedMean`, while the sum's memory is still borrowed from the kernel.
 */
import { FedkitError, layoutSize, type WeightsLayout } from '@fedkit/protocol';
import type { KernelChoice, WeightedSum } from './kernels/weighted-sum.js';
import { createWeightedSum } from './kernels/weighted-sum.js';
import { assertExampleCount } from './options.js';
import type { AccumulatorPartial, TrainReply, UpdateAccumulator } from './strategy.js';
import { WeightedMetrics } from './weighted-metrics.js';

/** The running state of one round: a weighted sum of updates and of metrics. */
export class WeightedMeanAccumulator implements UpdateAccumulator {
  count = 0;
  totalWeight = 0;
  /** `null` once the round has been aggregated. */
  sum: WeightedSum | null;
  readonly metrics = new WeightedMetrics();

  constructor(
    /** The strategy object that began the round; only it may close it. */
    readonly owner: object,
    readonly round: number,
    readonly global: Float32Array,
    sum: WeightedSum,
  ) {
    this.sum = sum;
  }

  add(reply: TrainReply): void {
    if (this.sum === null) throw new FedkitError('round-closed', `round ${this.round} was already aggregated`);
    // Check everything before folding anything, so a rejected reply leaves no trace.
    assertExampleCount(reply.numExamples, reply.clientId);
    if (!(reply.update instanceof Float32Array)) throw new TypeError(`update from client "${reply.clientId}" must be a Float32Array`);
    if (typeof reply.metrics !== 'object' || reply.metrics === null) {
      throw new TypeError(`metrics from client "${reply.clientId}" must be an object`);
    }
    if (reply.update.length !== this.global.length) {
      throw new FedkitError(
        'update-size-mismatch',
        `update from client "${reply.clientId}" has ${reply.update.length} floats, the model has ${this.global.length}`,
      );
    }
    // A weight of 0 changes nothing (updates are finite), so skip the pass over the model.
    if (reply.numExamples > 0) this.sum.add(reply.update, reply.numExamples);
    this.metrics.add(reply.metrics, reply.numExamples);
    this.count++;
    this.totalWeight += reply.numExamples;
  }

  exportPartial(): AccumulatorPartial {
    if (this.sum === null) throw new FedkitError('round-closed', `round ${this.round} was already aggregated`);
    return { kind: 'weighted-mean', count: this.count, totalWeight: this.totalWeight, sum: Float64Array.from(this.sum.sum()), counters: {}, metrics: this.metrics.exportSums() };
  }

  /** Adds another process's partial: its Σ n_k Δ_k goes in with weight 1. */
  mergePartial(partial: AccumulatorPartial): void {
    if (this.sum === null) throw new FedkitError('round-closed', `round ${this.round} was already aggregated`);
    if (partial.kind !== 'weighted-mean') throw new TypeError(`cannot merge a "${partial.kind}" partial into a weighted mean`);
    if (partial.sum.length !== this.global.length) {
      throw new FedkitError('update-size-mismatch', `a partial sum has ${partial.sum.length} floats, the model has ${this.global.length}`);
    }
    if (partial.count > 0) this.sum.add(Float32Array.from(partial.sum), 1);
    this.metrics.mergeSums(partial.metrics);
    this.count += partial.count;
    this.totalWeight += partial.totalWeight;
  }
}

/** Starts a round's weighted mean against `global`, after checking it matches `layout`. */
export function beginWeightedMean(owner: object, round: number, global: Float32Array, layout: WeightsLayout, kernel: KernelChoice): WeightedMeanAccumulator {
  if (!(global instanceof Float32Array)) throw new TypeError('global weights must be a Float32Array');
  const size = layoutSize(layout);
  if (size !== global.length) {
    throw new FedkitError('weights-layout-invalid', `global weights have ${global.length} floats, the layout describes ${size}`);
  }
  return new WeightedMeanAccumulator(owner, round, global, createWeightedSum(global.length, kernel));
}

/** What `closeWeightedMean` hands to the strategy's own step. */
export interface WeightedMeanRound {
  /** The global weights the round began from (never mutate). */
  global: Float32Array;
  /** `Σ n_k Δ_k`, a view valid only during the callback: copy what you keep. */
  sum: Float32Array;
  /** `m = Σ n_k` (> 0). */
  totalWeight: number;
  /** Example-weighted means of the reported metrics, plus `numClients` and `numExamples`. */
  metrics: Record<string, number>;
}

/**
 * Closes the round `accumulator` holds and, unless it has fewer than `minReplies` replies or
 * no examples (then `null`: the server keeps the model), calls `step` with the sum. The
 * sum's memory goes back to the kernel pool afterwards, whatever `step` does.
 *
 * @param what names the strategy in the error for a foreign accumulator, e.g. `"fedAvg()"`.
 */
export function closeWeightedMean<T>(
  owner: object | null,
  accumulator: UpdateAccumulator,
  round: number,
  minReplies: number,
  what: string,
  step: (mean: WeightedMeanRound) => T,
): T | null {
  if (!(accumulator instanceof WeightedMeanAccumulator) || (owner !== null && accumulator.owner !== owner)) {
    throw new TypeError(`accumulator was not created by ${what}.beginTrain`);
  }
  if (accumulator.round !== round) {
    throw new RangeError(`accumulator belongs to round ${accumulator.round}, not round ${round}`);
  }
  const sum = accumulator.sum;
  if (sum === null) throw new FedkitError('round-closed', `round ${round} was already aggregated`);
  accumulator.sum = null;
  try {
    const m = accumulator.totalWeight;
    if (accumulator.count < minReplies || m === 0) return null;
    const metrics = { ...accumulator.metrics.means(), numClients: accumulator.count, numExamples: m };
    return step({ global: accumulator.global, sum: sum.sum(), totalWeight: m, metrics });
  } finally {
    sum.release();
  }
}
