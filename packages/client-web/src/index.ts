export * from './backend.js';
export * from './data-source.js';
export * from './identity-store.js';
export type { LogLevel, WebClientEvents, WebClientState } from './messages.js';
export * from './web-client.js';
export { isWorkerScope, serveWorker } from './worker-entry.js';
// The engine and the paper's models, for apps that train or predict locally (and the browser bench).
export { TrainingEngine, createMnist2nn, createMnistCnn } from '@fedkit/client-core';
