/**
 * FedAvg (McMahan et al., AISTATS 2017, with the erratum): the new global model is
 * `global + Σ_k (n_k / m) Δ_k`, where `Δ_k` is client k's update (local − global), `n_k` its
 * number of examples and `m = Σ n_k` over the clients that replied this round, not over all
 * those selected.
 *
 * It streams: each reply is folded into one running float32 sum `Σ n_k Δ_k` as it arrives and
 * then forgotten, so a round holds O(model size) memory whatever the number of clients. The
 * division by `m` and the addition to the global weights happen once, in float64, at the end.
 */
import { FedkitError, layoutSize, type WeightsLayout } from '@fedkit/protocol';
import type { KernelChoice, WeightedSum } from './kernels/weighted-sum.js';
import { createWeightedSum } from './kernels/weighted-sum.js';
import { assertExampleCount, assertOptionsObject, choiceOption, integerOption } from './options.js';
import type { AggregateResult, Strategy, TrainReply, UpdateAccumulator } from './strategy.js';
import { weightedEvaluate, WeightedMetrics } from './weighted-metrics.js';

export interface FedAvgOptions {
  /**
   * Fewest replies (including those with 0 examples) for a round to count; with fewer,
   * `aggregateTrain` returns `null` and the server keeps the model.
   * @default 1
   */
  minReplies?: number;
  /**
   * Which weighted-accumulate kernel folds updates. `'auto'` uses WebAssembly SIMD where
   * available and the unrolled JS loop elsewhere; both give bit-identical sums.
   * @default 'auto'
   */
  kernel?: KernelChoice;
}

const OPTION_NAMES = ['minReplies', 'kernel'] as const;
const KERNELS: readonly KernelChoice[] = ['auto', 'wasm-simd', 'js'];

/** The running state of one FedAvg round: a weighted sum of updates and of metrics. */
class FedAvgAccumulator implements UpdateAccumulator {
  count = 0;
  totalWeight = 0;
  /** `null` once the round has been aggregated. */
  sum: WeightedSum | null;
  readonly metrics = new WeightedMetrics();

  constructor(
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
}

/**
 * Creates a FedAvg strategy.
 *
 * @example
 * const strategy = fedAvg({ minReplies: 2 });
 * const acc = strategy.beginTrain(round, global, layout);
 * for (const reply of replies) acc.add(reply); // as each arrives
 * const result = strategy.aggregateTrain(round, acc, failures); // null: keep the model
 */
export function fedAvg(options: FedAvgOptions = {}): Strategy {
  assertOptionsObject(options, OPTION_NAMES, 'fedAvg');
  const minReplies = integerOption(options.minReplies, 'minReplies', 1, 1);
  const kernel = choiceOption(options.kernel, 'kernel', 'auto', KERNELS);

  return {
    name: 'fedavg',

    configureTrain: (_round, base) => ({ ...base }),

    beginTrain(round: number, global: Float32Array, layout: WeightsLayout): UpdateAccumulator {
      const size = layoutSize(layout);
      if (size !== global.length) {
        throw new FedkitError('weights-layout-invalid', `global weights have ${global.length} floats, the layout describes ${size}`);
      }
      return new FedAvgAccumulator(round, global, createWeightedSum(global.length, kernel));
    },

    aggregateTrain(round, accumulator): AggregateResult | null {
      if (!(accumulator instanceof FedAvgAccumulator)) {
        throw new TypeError('accumulator was not created by fedAvg().beginTrain');
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
        const weights = applyMean(accumulator.global, sum.sum(), m);
        const metrics = { ...accumulator.metrics.means(), numClients: accumulator.count, numExamples: m };
        return { weights, metrics };
      } finally {
        sum.release();
      }
    },

    configureEvaluate: (_round, base) => ({ ...base }),

    aggregateEvaluate: (_round, replies) => weightedEvaluate(replies),
  };
}

/** `global + sum / m` in float64, rounded once to float32, into a fresh array. */
function applyMean(global: Float32Array, sum: Float32Array, m: number): Float32Array {
  const out = new Float32Array(global.length);
  for (let i = 0; i < out.length; i++) out[i] = global[i]! + sum[i]! / m;
  return out;
}
