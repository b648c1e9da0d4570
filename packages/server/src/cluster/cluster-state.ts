/**
 * The federation's shared state in Redis: the global model (float32 bytes), its version, the
 * last completed round, the strategy's and the privacy ledger's state, and, once training
 * ends, why. Only the lock holder may write it (a Lua script checks the lock in the same
 * step: a coordinator that lost its lock cannot overwrite its successor's model). Every
 * process reads it to send clients the current model; a new coordinator resumes from it.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { FedkitError, type FinishedMessage } from '@fedkit/protocol';
import type { RoundMetrics } from '../metrics.js';
import type { Logger } from '../logger.js';
import type { ClusterKeys } from './keys.js';
import { parseRecord, roundRecordSchema, stateMetaSchema } from './redis-records.js';

export interface ClusterStateMeta {
  modelVersion: number;
  /** The last completed round. */
  round: number;
  strategyState: unknown;
  privacyState: unknown;
  /** Set once training has ended for the whole federation. */
  finished: { reason: FinishedMessage['reason']; message: string } | null;
  /** The process that wrote it. */
  writer: string;
}

export interface ClusterState {
  meta: ClusterStateMeta;
  weights: Float32Array;
  /** A token that changes on every publish. */
  seq: string;
}

const PUBLISH = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'meta', ARGV[2], 'weights', ARGV[3], 'seq', ARGV[5])
if ARGV[4] ~= '' then redis.call('RPUSH', KEYS[3], ARGV[4]) end
return 1`;

/**
 * Writes the state (and appends `record` to the history) if this process holds the lock;
 * false when it does not.
 */
export async function publishState(redis: Redis, keys: ClusterKeys, processId: string, meta: ClusterStateMeta, weights: Float32Array, record: RoundMetrics | null): Promise<boolean> {
  const bytes = Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength);
  // A fresh token, not a counter: a Redis that lost its data must not repeat a seen value.
  const seq = `${Date.now()}-${randomBytes(6).toString('hex')}`;
  const result = await redis.eval(PUBLISH, 3, keys.lock, keys.state, keys.history, processId, JSON.stringify(meta), bytes, record === null ? '' : JSON.stringify(record), seq);
  return result === 1;
}

/** The state's change token (new on every publish), or null when there is none. */
export async function stateSeq(redis: Redis, keys: ClusterKeys): Promise<string | null> {
  return redis.hget(keys.state, 'seq');
}

export async function readState(redis: Redis, keys: ClusterKeys): Promise<ClusterState | null> {
  const [meta, weights, seq] = await redis.hmgetBuffer(keys.state, 'meta', 'weights', 'seq');
  if (meta == null || weights == null || seq == null) return null;
  if (weights.length % 4 !== 0) throw new FedkitError('state-corrupt', `Redis holds an invalid shared model: ${weights.length} bytes is not a whole number of float32 values`);
  const floats = new Float32Array(weights.length / 4);
  Buffer.from(floats.buffer).set(weights);
  // The strategy's and the ledger's importState check their own state.
  const parsed = parseRecord(stateMetaSchema, meta.toString('utf8'), 'shared state');
  return { meta: { ...parsed, strategyState: parsed.strategyState ?? null, privacyState: parsed.privacyState ?? null }, weights: floats, seq: seq.toString('utf8') };
}

/**
 * The recorded rounds, oldest first (the fields readers rely on are checked; the rest is
 * shown as written). The history is a record, not state: an invalid line is skipped with a
 * warning.
 */
export async function readHistory(redis: Redis, keys: ClusterKeys, logger: Pick<Logger, 'warn'>): Promise<RoundMetrics[]> {
  const out: RoundMetrics[] = [];
  for (const line of await redis.lrange(keys.history, 0, -1)) {
    try {
      out.push(parseRecord(roundRecordSchema, line, 'round record') as unknown as RoundMetrics);
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'cluster: skipped an invalid round record');
    }
  }
  return out;
}

const REPLACE_LAST = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('LLEN', KEYS[2]) == 0 then return 0 end
redis.call('LSET', KEYS[2], -1, ARGV[2])
return 1`;

/**
 * Replaces the newest round record (a round's record once its federated evaluation is in),
 * if this process holds the lock; false when it does not (or the history is empty).
 */
export async function replaceLastRecord(redis: Redis, keys: ClusterKeys, processId: string, record: RoundMetrics): Promise<boolean> {
  return (await redis.eval(REPLACE_LAST, 2, keys.lock, keys.history, processId, JSON.stringify(record))) === 1;
}

/** Re-creates the history list (a new coordinator after Redis lost its data). */
export async function writeHistory(redis: Redis, keys: ClusterKeys, history: readonly RoundMetrics[]): Promise<void> {
  const multi = redis.multi().del(keys.history);
  if (history.length > 0) multi.rpush(keys.history, ...history.map((r) => JSON.stringify(r)));
  await multi.exec();
}
