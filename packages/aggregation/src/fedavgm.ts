/**
 * FedAvgM (Hsu, Qi and Brown 2019, arXiv:1909.06335): FedAvg with server momentum. The
 * server folds the example-weighted mean update Δ into a velocity and steps along it:
 * `v ← β·v + Δ; w ← w + η·v`. Momentum damps the round-to-round swings that non-IID
 * clients cause. With the defaults (Flower's: `server_learning_rate = 1.0`,
 * `server_momentum = 0.0`) it is exactly FedAvg.
 *
 * Works under secure aggregation and inside the DP wrappers: see server-opt-strategy.ts.
 */
import type { FedAvgOptions } from './fedavg.js';
import { FEDAVG_OPTION_NAMES, fedAvgOptions } from './fedavg.js';
import { assertOptionsObject } from './options.js';
import { DECAY_RANGE, POSITIVE_RANGE, realOption } from './range-options.js';
import { createServerOptStrategy, type ServerOptStrategy } from './server-opt-strategy.js';
import { momentumOptimizer } from './server-optimizers/momentum.js';

export interface FedAvgMOptions extends FedAvgOptions {
  /**
   * η: how far the server steps along the velocity, > 0.
   * @default 1 (Flower's `server_learning_rate`)
   */
  serverLearningRate?: number;
  /**
   * β ∈ [0, 1): the fraction of last round's velocity kept. On a steady Δ the step tends
   * to η·Δ/(1 − β), so a larger β usually wants a smaller η.
   * @default 0 (Flower's `server_momentum`)
   */
  momentum?: number;
}

export const FEDAVGM_OPTION_NAMES = [...FEDAVG_OPTION_NAMES, 'serverLearningRate', 'momentum'] as const;

/**
 * Creates a FedAvgM strategy.
 *
 * @example
 * const strategy = fedAvgM({ serverLearningRate: 1, momentum: 0.9 });
 * store.save(strategy.toJSON()); // after each round; strategy.fromJSON(saved) on restart
 */
export function fedAvgM(options: FedAvgMOptions = {}): ServerOptStrategy {
  assertOptionsObject(options, FEDAVGM_OPTION_NAMES, 'fedAvgM');
  const { minReplies, kernel } = fedAvgOptions(options);
  const serverLearningRate = realOption(options.serverLearningRate, 'serverLearningRate', 1, POSITIVE_RANGE);
  const momentum = realOption(options.momentum, 'momentum', 0, DECAY_RANGE);
  return createServerOptStrategy({
    name: 'fedavgm',
    what: 'fedAvgM()',
    minReplies,
    kernel,
    optimizer: momentumOptimizer({ serverLearningRate, momentum }),
  });
}
