/**
 * @fedkit/aggregation: strategies (FedAvg and friends) as pure TypeScript over
 * `Float32Array`, with no sockets and no tfjs, so the server, the simulator and tests all
 * run the same code.
 */
export * from './strategy.js';
export { fedAvg, FEDAVG_OPTION_NAMES, type FedAvgOptions } from './fedavg.js';
export { weightedEvaluate, WeightedMetrics } from './weighted-metrics.js';
export { createWeightedSum, type KernelChoice, type WeightedSum } from './kernels/weighted-sum.js';
export { wasmSimdAvailable, weightedAccumulateJs, type KernelKind } from './kernels/weighted-accumulate.js';
export { fedAvgM, FEDAVGM_OPTION_NAMES, type FedAvgMOptions } from './fedavgm.js';
export {
  fedAdagrad,
  fedAdam,
  fedYogi,
  FEDADAGRAD_OPTION_NAMES,
  FEDADAM_OPTION_NAMES,
  FEDYOGI_OPTION_NAMES,
  type FedAdagradOptions,
  type FedAdamOptions,
  type FedOptOptions,
  type FedYogiOptions,
} from './fedopt.js';
export { fedProx, FEDPROX_OPTION_NAMES, PROXIMAL_MU_KEY, type FedProxOptions } from './fedprox.js';
export {
  createStrategy,
  isServerOptStrategy,
  isStrategyName,
  needsIndividualUpdates,
  ROBUST_STRATEGY_NAMES,
  STRATEGY_NAMES,
  type StrategyName,
  type StrategySpec,
} from './registry.js';
export * from './robust/index.js';
export { createServerOptStrategy, type ServerOptSpec, type ServerOptState, type ServerOptStrategy } from './server-opt-strategy.js';
export { adaptiveOptimizer, type AdaptiveParams, type AdaptiveRule } from './server-optimizers/adaptive.js';
export { momentumOptimizer, type MomentumParams } from './server-optimizers/momentum.js';
export type { OptimizerMoments, ServerOptimizer } from './server-optimizers/server-optimizer.js';
export { beginWeightedMean, closeWeightedMean, WeightedMeanAccumulator, type WeightedMeanRound } from './weighted-mean.js';
export {
  fedBuff,
  type AsyncUpdate,
  type BufferedAggregator,
  type FedBuffOptions,
  type FedBuffStart,
  type OfferOutcome,
  type PublishedVersion,
} from './fedbuff/fedbuff.js';
export { DEFAULT_STALENESS, stalenessFunction, type StalenessWeighting } from './fedbuff/staleness.js';
