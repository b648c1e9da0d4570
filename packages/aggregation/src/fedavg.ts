/**
 * FedAvg (McMahan et al., AISTATS 2017, with the erratum): the new global model is
 * `global + Σ_k (n_k / m) Δ_k`, where `Δ_k` is client k's update (local − global), `n_k` its
 * number of examples and `m = Σ n_k` over the clients that replied this round, not over all
 * those selected.
 *
 * It streams: each reply is folded into one running float32 sum `Σ n_k Δ_k` as it arrives and
 * then forgotten, so a round holds O(model size) memory whatever the number of clients. The
 * division by `m` and the addition to the global weights happen once, in float64, at the end.
 * The streaming mean lives in weighted-mean.ts, shared with the server optimizers.
 */
import type { KernelChoice } from './kernels/weighted-sum.js';
import { assertOptionsObject, choiceOption, integerOption } from './options.js';
import type { AggregateResult, Strategy, UpdateAccumulator } from './strategy.js';
import { beginWeightedMean, closeWeightedMean } from './weighted-mean.js';
import { weightedEvaluate } from './weighted-metrics.js';

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

export const FEDAVG_OPTION_NAMES = ['minReplies', 'kernel'] as const;
export const KERNELS: readonly KernelChoice[] = ['auto', 'wasm-simd', 'js'];

/** FedAvg's options, validated (shared by the strategies that start from its mean). */
export function fedAvgOptions(options: Record<string, unknown>): { minReplies: number; kernel: KernelChoice } {
  return {
    minReplies: integerOption(options.minReplies, 'minReplies', 1, 1),
    kernel: choiceOption(options.kernel, 'kernel', 'auto', KERNELS),
  };
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
  assertOptionsObject(options, FEDAVG_OPTION_NAMES, 'fedAvg');
  const { minReplies, kernel } = fedAvgOptions(options);
  const owner = {};

  return {
    name: 'fedavg',

    configureTrain: (_round, base) => ({ ...base }),

    beginTrain: (round, global, layout): UpdateAccumulator => beginWeightedMean(owner, round, global, layout, kernel),

    aggregateTrain: (round, accumulator): AggregateResult | null =>
      // Any fedAvg's accumulator will do: the strategy keeps no state between rounds.
      closeWeightedMean(null, accumulator, round, minReplies, 'fedAvg()', ({ global, sum, totalWeight, metrics }) => ({
        weights: applyMean(global, sum, totalWeight),
        metrics,
      })),

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
