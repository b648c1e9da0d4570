/**
 * @fedkit/aggregation: strategies (FedAvg and friends) as pure TypeScript over
 * `Float32Array`, with no sockets and no tfjs, so the server, the simulator and tests all
 * run the same code.
 */
export * from './strategy.js';
export { fedAvg, type FedAvgOptions } from './fedavg.js';
export { weightedEvaluate, WeightedMetrics } from './weighted-metrics.js';
export { createWeightedSum, type KernelChoice, type WeightedSum } from './kernels/weighted-sum.js';
export { wasmSimdAvailable, weightedAccumulateJs, type KernelKind } from './kernels/weighted-accumulate.js';
