export * from './config.js';
export * from './model.js';
export * from './metrics.js';
export * from './client-registry.js';
export * from './round-phase.js';
export * from './logger.js';
export { FederationServer, type FederationServerOptions, type FederationSummary, type FederationServerEvents } from './federation-server.js';
export { createFastUpdateOpener } from './update-opener.js';
export { PrivacyLedger, type PrivacySnapshot } from './privacy-ledger.js';
