/**
 * Byzantine-robust aggregation: strategies that hold when some clients send arbitrary
 * updates. All need every client's individual update, so none runs under secure
 * aggregation (the server sees only the masked sum there) or behind a central-DP wrapper
 * (which hands the inner strategy one noised mean).
 */
export { bulyan, BULYAN_OPTION_NAMES, type BulyanOptions } from './bulyan.js';
export { fedMedian, FEDMEDIAN_OPTION_NAMES, type FedMedianOptions } from './fedmedian.js';
export { fedTrimmedAvg, FEDTRIMMEDAVG_OPTION_NAMES, trimmedPerSide, type FedTrimmedAvgOptions } from './fedtrimmedavg.js';
export { bulyanMinimum, bulyanSelect, krumMinimum, krumScores, krumSelect } from './krum-select.js';
export { krum, KRUM_OPTION_NAMES, multiKrum, MULTIKRUM_OPTION_NAMES, type KrumOptions, type MultiKrumOptions } from './krum.js';
export { l2NormOf, NORMBOUND_OPTION_NAMES, withNormBound, type NormBoundOptions } from './norm-bound.js';
export type { ColumnReduction } from './reductions.js';
export type { RobustCommonOptions } from './robust-options.js';
export { createRowStore, robustKernelModule, type RowStore } from './row-store.js';
export { sortingNetwork } from './sorting-network.js';
