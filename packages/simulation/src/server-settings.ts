/**
 * The part of a simulation config that configures the real server: the strategy by name
 * with its parameters, differential privacy and secure aggregation, passed through to
 * `FederationServer` as a production config would be. Validation is the server's own
 * (`resolveServerOptions`: strategy ranges, DP mode rules such as "distributed needs secure
 * aggregation", a budget needs δ), run when the simulation config is resolved, so a bad
 * combination fails before any data is loaded.
 */
import { resolveServerOptions, type ServerOptionsInput } from '@fedkit/server';
import type { StrategySpec } from '@fedkit/aggregation';
import type { DpConfigInput } from '@fedkit/privacy';
import { FedkitError } from '@fedkit/protocol';

/** The server's `secureAggregation` option (SecAgg+), as in a server config. */
export interface SecureAggregationSettings {
  enabled: boolean;
  threshold?: number;
  neighbourCount?: number;
  quantization?: { clippingRange?: number; quantizationRange?: number; modulusBits?: number; maxWeight?: number };
}

/**
 * The server's `async` options as a simulation config gives them (`bufferSize`,
 * `maxStaleness`, `staleness`, `concurrency`, `staleRefusal`, `failureBackoffMs`); validated
 * by the server's validator, `maxVersions` filled in from `rounds`.
 */
export type AsyncSettings = Record<string, unknown>;

/** What `serverOptionsFor` needs from a resolved simulation config. */
export interface ServerFacingConfig {
  mode: 'sync' | 'async';
  /** Null in sync mode. */
  async: AsyncSettings | null;
  /** Null = no churn: every client is online throughout. */
  churn: { offlineFraction: number } | null;
  clients: number;
  fraction: number;
  minClients: number;
  rounds: number;
  targetAccuracy?: number | undefined;
  stopAtTarget: boolean;
  roundDeadlineMs: number;
  train: { epochs: number; batchSize: number | null; learningRate: number; learningRateDecay: number };
  strategy: StrategySpec;
  privacy: DpConfigInput | null;
  secureAggregation: SecureAggregationSettings | null;
}

/** m, the clients sampled per round: max(minClients, ⌈C·K⌉), as the server samples them. */
export function clientsPerRound(config: Pick<ServerFacingConfig, 'clients' | 'fraction' | 'minClients'>): number {
  return Math.min(config.clients, Math.max(config.minClients, Math.ceil(config.fraction * config.clients)));
}

/** The strategy field as a spec: a bare name, or `{ name, ...parameters }`. */
export function strategySpecOf(value: unknown): StrategySpec {
  return (typeof value === 'string' ? { name: value } : value) as StrategySpec;
}

/**
 * The privacy field with the simulation's one default filled in: `expectedClients` (DP's
 * fixed denominator m) is the clients sampled per round when a central or distributed
 * config leaves it out. `null` and `{ mode: 'none' }` both mean no DP.
 */
export function privacyWithDefaults(value: unknown, perRound: number): DpConfigInput | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return value as DpConfigInput;
  const input = value as DpConfigInput;
  if (input.mode === 'none') return null;
  const central = input.mode === 'central' || input.mode === 'distributed';
  return central && input.expectedClients === undefined ? { ...input, expectedClients: perRound } : input;
}

/** The server options a simulation runs with (the model, randomness and hooks are added by the runner). */
export function serverOptionsFor(config: ServerFacingConfig): ServerOptionsInput {
  const { targetAccuracy } = config;
  const async = config.mode === 'async';
  return {
    rounds: config.rounds,
    ...(targetAccuracy !== undefined && config.stopAtTarget ? { targetAccuracy } : {}),
    minClients: serverMinClients(config),
    sampling: { fraction: config.fraction, minFit: config.minClients },
    roundDeadlineMs: config.roundDeadlineMs,
    maxRoundAttempts: 10,
    // Async mode folds updates as they arrive: a fold order has no meaning there.
    // (The server's validator checks the async options; the cast is not a check.)
    ...(async ? { mode: 'async' as const, async: { ...config.async, maxVersions: config.rounds } as ServerOptionsInput['async'] } : { foldOrder: 'client-id' as const }),
    train: config.train,
    strategy: config.strategy,
    ...(config.privacy === null ? {} : { privacy: config.privacy }),
    ...(config.secureAggregation === null ? {} : { secureAggregation: config.secureAggregation }),
    evaluate: { every: 0 },
    transfer: { maxChunkBytes: 4 * 1024 * 1024, timeoutMs: config.roundDeadlineMs },
  };
}

/**
 * How many clients the server waits for. Without churn every virtual client joins before the
 * first round, so sampling is reproducible. With churn some are always offline: a round (or
 * async training) starts once enough are online for one round (m) or one buffer (K).
 */
function serverMinClients(config: ServerFacingConfig): number {
  if (config.churn === null) return config.clients;
  const bufferSize = config.async?.bufferSize;
  const wanted = config.mode === 'async' && typeof bufferSize === 'number' ? Math.max(config.minClients, bufferSize) : clientsPerRound(config);
  return Math.min(config.clients, Math.max(1, Math.floor(wanted)));
}

/**
 * Runs the server's validator over the server-facing fields; its `config-invalid` comes back
 * as a simulation config error naming the same field (`field "privacy.mode": ...`).
 */
export function validateServerFacing(config: ServerFacingConfig): void {
  try {
    resolveServerOptions(serverOptionsFor(config));
  } catch (error) {
    if (!(error instanceof FedkitError)) throw error;
    // createStrategy names its field as a prefix ("strategy.name: ..."); the rest say field "...".
    const message = error.message.replace(/^server options: /, '').replace(/^(strategy(?:\.\w+)?): /, 'field "$1": ');
    const field = /^field "([^"]+)"/.exec(message)?.[1];
    throw new FedkitError('config-invalid', `simulation config: ${message}`, field === undefined ? {} : { field });
  }
}
