export * from './backend.js';
export * from './data-source.js';
export * from './identity-store.js';
export type { LogLevel, WebClientEvents, WebClientState } from './messages.js';
export * from './web-client.js';
export { isWorkerScope, serveWorker } from './worker-entry.js';
