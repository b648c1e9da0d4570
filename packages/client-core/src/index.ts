export * from './engine/index.js';
export * from './data/index.js';
export * from './session/index.js';
