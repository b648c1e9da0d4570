/**
 * `@fedkit/privacy/dp`: differential privacy applied to federated rounds. Server-side
 * wrappers turn any strategy into DP-FedAvg (central or distributed noise, fixed or
 * adaptive clip); client-side mods clip and noise updates on the device; a config
 * validator rejects unsafe combinations of modes; and a guard keeps seeded randomness out
 * of production.
 */
export {
  ADAPTIVE_CLIPPING_DEFAULTS,
  adaptiveNoiseSplit,
  combinedNoiseMultiplier,
  nextClipNorm,
  noisedUnclippedFraction,
  type AdaptiveNoiseSplit,
} from './adaptive-math.js';
export { withAdaptiveClipping, type AdaptiveClippingOptions } from './adaptive-clipping.js';
export { clipMod, distributedDpMod, localDpMod, type DistributedDpModOptions, type LocalDpModOptions } from './client-mods.js';
export { DP_CONFIG_KEYS, UNCLIPPED_METRIC } from './config-keys.js';
export {
  DP_MODES,
  adaptiveSplitOf,
  validateDpConfig,
  type AdaptiveClippingConfig,
  type DpConfig,
  type DpConfigContext,
  type DpConfigInput,
  type DpMode,
} from './dp-config.js';
export {
  DP_AGGREGATE_CLIENT_ID,
  type DpRoundFacts,
  type DpRoundRecord,
  type DpStrategy,
  type DpStrategyMode,
  type DpStrategyState,
} from './dp-strategy.js';
export { withCentralDp, withDistributedDp, type FixedClipDpOptions } from './fixed-clipping.js';
export { applyMods, type ModContext, type TrainHandler, type TrainMod, type TrainOutcome, type TrainRequest } from './mods.js';
export { assertProductionRandom, assertRandomSource, resolveRandom } from './random-guard.js';
export {
  COUNT_COORDINATES,
  appendCountCoordinate,
  assertCountCoordinateFits,
  noisedUnclippedShare,
  secureSumVector,
  splitCountCoordinate,
  unitWeightRange,
  wantsCountCoordinate,
} from './secure-count.js';
