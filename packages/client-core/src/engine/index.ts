export { assertDatasetFitsModel, isCompatibleShape } from './batches.js';
export * from './model-weights.js';
export * from './serialize.js';
export * from './train-options.js';
export * from './training-engine.js';
export * from './wasm-conv-gradients.js';
export * from './wasm-matmul-gradients.js';
export * from '../models/mcmahan.js';
