export * from './local-trainer.js';
export * from './fedkit-client.js';
export * from './engine-trainer.js';
