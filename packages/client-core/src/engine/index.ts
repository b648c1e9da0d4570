export * from './model-weights.js';
export * from './serialize.js';
export * from '../models/mcmahan.js';
