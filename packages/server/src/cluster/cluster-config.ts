/**
 * The `cluster` option (scale-out on Redis): its zod schema, which config.ts mounts, and
 * `checkClusterMode`, the cross-field check run once by resolveServerOptions. Cluster mode
 * sums partial aggregates from several processes, so anything whose aggregate is not a
 * plain (weighted) sum of updates, or that needs the whole cohort in one process, is
 * refused here with `config-invalid` naming the field, never half-run.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { FedkitError } from '@fedkit/protocol';
import { needsIndividualUpdates, type StrategySpec } from '@fedkit/aggregation';
import type { DpConfig } from '@fedkit/privacy';
import { shortestStageDeadlineMs } from '../secagg-round.js';

export const clusterOptionsSchema = z
  .object({
    /** Redis to share the federation through, e.g. `redis://127.0.0.1:6379/0`. */
    redisUrl: z
      .string()
      .min(1)
      .refine((url) => /^rediss?:\/\//.test(url), 'must start with redis:// or rediss://'),
    /** Prefix of every Redis key and channel. @default 'fedkit' */
    keyPrefix: z.string().min(1).max(100).regex(/^[\w.-]+$/, 'letters, digits, "_", "." and "-" only').default('fedkit'),
    /** Names the federation inside the prefix, so several can share one Redis. @default 'default' */
    federationId: z.string().min(1).max(100).regex(/^[\w.-]+$/, 'letters, digits, "_", "." and "-" only').default('default'),
    /** This process's name in Redis; must differ between processes. @default hostname:pid:random */
    processId: z.string().min(1).max(200).optional(),
    /** The coordinator's lock expires this long after its last renewal (ms). @default 3000 */
    coordinatorLockTtlMs: z.number().int().min(200).max(600_000).default(3000),
    /** A process's client list expires this long after its last heartbeat (ms). @default 3000 */
    heartbeatTtlMs: z.number().int().min(200).max(600_000).default(3000),
    /** How often processes poll Redis for round work and the coordinator for replies (ms). @default 100 */
    pollMs: z.number().int().min(10).max(10_000).default(100),
    /** Give up starting when Redis does not answer within this (ms). @default 3000 */
    connectTimeoutMs: z.number().int().min(100).max(60_000).default(3000),
  })
  .strict();

export type ClusterOptions = z.output<typeof clusterOptionsSchema>;

/** The default process id: unique per process and readable in Redis. */
export function defaultProcessId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

interface ClusterModeView {
  mode: 'sync' | 'async';
  cluster?: ClusterOptions | undefined;
  strategy: StrategySpec;
  privacy: DpConfig;
  foldOrder: 'arrival' | 'client-id';
  secureAggregation?: { enabled: boolean } | undefined;
  roundDeadlineMs: number;
}

/** Throws `config-invalid` naming the field when `cluster` is combined with what it cannot run. */
export function checkClusterMode(options: ClusterModeView): void {
  if (options.cluster === undefined) return;
  const fail = (field: string, message: string): never => {
    throw new FedkitError('config-invalid', `server options: field "${field}": ${message}`);
  };
  if (options.mode === 'async') fail('mode', `'async' is not available with "cluster": FedBuff folds one update at a time in one process`);
  if (needsIndividualUpdates(options.strategy)) {
    fail('strategy.name', `"${options.strategy.name}" needs every client's own update; "cluster" sums partial aggregates per process (use fedavg, fedavgm, fedprox, fedadam, fedyogi or fedadagrad)`);
  }
  if (options.secureAggregation?.enabled === true && 4 * options.cluster.pollMs > shortestStageDeadlineMs(options.roundDeadlineMs)) {
    const stageMs = shortestStageDeadlineMs(options.roundDeadlineMs);
    fail('cluster.pollMs', `${options.cluster.pollMs} ms is too slow for secure aggregation with roundDeadlineMs ${options.roundDeadlineMs}: its shortest stage (${stageMs} ms) must allow 4 Redis polls (lower pollMs to ${Math.floor(stageMs / 4)} or raise roundDeadlineMs)`);
  }
  if (options.foldOrder === 'client-id') fail('foldOrder', `'client-id' is not available with "cluster": each process folds its own clients' replies as they arrive`);
}
