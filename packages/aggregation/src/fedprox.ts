/**
 * FedProx (Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020,
 * arXiv:1812.06127) on the server: FedAvg's aggregation, plus `proximalMu` (μ) in every
 * train config. Clients add μ/2·‖w − w_global‖² to their local loss (client-core's training
 * engine), which keeps heterogeneous clients from drifting far from the global model over
 * many local steps; μ = 0 is FedAvg. The paper's tolerance to partial work (stragglers
 * sending fewer local epochs) needs nothing more on the server: FedAvg already folds
 * whatever replies arrive.
 *
 * Works under secure aggregation and inside the DP wrappers, as FedAvg does: the proximal
 * term changes only what clients compute.
 */
import type { FedAvgOptions } from './fedavg.js';
import { fedAvg, FEDAVG_OPTION_NAMES } from './fedavg.js';
import { assertOptionsObject } from './options.js';
import { NON_NEGATIVE_RANGE, requiredReal } from './range-options.js';
import type { Strategy } from './strategy.js';

/** The train-config key clients read μ from. */
export const PROXIMAL_MU_KEY = 'proximalMu';

export interface FedProxOptions extends FedAvgOptions {
  /**
   * μ ≥ 0, the weight of the proximal term. No default: the paper tunes it per task from
   * {0.001, 0.01, 0.1, 1} (Flower's FedProx requires it too).
   */
  proximalMu: number;
}

export const FEDPROX_OPTION_NAMES = [...FEDAVG_OPTION_NAMES, 'proximalMu'] as const;

/**
 * Creates a FedProx strategy.
 *
 * @example
 * const strategy = fedProx({ proximalMu: 0.01 });
 * strategy.configureTrain(1, { epochs: 5, batchSize: 10, learningRate: 0.05 }).proximalMu; // 0.01
 */
export function fedProx(options: FedProxOptions): Strategy {
  assertOptionsObject(options, FEDPROX_OPTION_NAMES, 'fedProx');
  const proximalMu = requiredReal(options.proximalMu, 'proximalMu', NON_NEGATIVE_RANGE);
  const { proximalMu: _mu, ...rest } = options;
  const inner = fedAvg(rest);
  return {
    ...inner,
    name: 'fedprox',
    configureTrain: (round, base) => {
      const config = inner.configureTrain(round, base);
      return config === null ? null : { ...config, [PROXIMAL_MU_KEY]: proximalMu };
    },
  };
}
