/**
 * The read-only parts of the server that both run modes work with: the synchronous round
 * loop's context (sync/sync-context.ts) and the async engine's host (async/async-engine.ts)
 * extend it.
 */
import type { Crc32, RandomSource, WeightsLayout } from '@fedkit/protocol';
import type { Strategy } from '@fedkit/aggregation';
import type { ClientRegistry } from './client-registry.js';
import type { ResolvedServerOptions } from './config.js';
import type { Logger } from './logger.js';
import type { PrivacyLedger } from './privacy-ledger.js';

export interface ServerParts {
  readonly options: ResolvedServerOptions;
  readonly logger: Logger;
  readonly random: RandomSource;
  readonly registry: ClientRegistry;
  /** The strategy, already wrapped for DP by the ledger. */
  readonly strategy: Strategy;
  readonly privacy: PrivacyLedger;
  readonly layout: WeightsLayout;
  readonly checksum: Crc32;
}
