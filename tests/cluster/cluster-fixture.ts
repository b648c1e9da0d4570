/**
 * The clients the in-process cluster tests spread over their servers: a constant update
 * and a weight each, so the expected model can be computed from them.
 */
import { afterAll, beforeAll } from 'vitest';
import { redisCommand, startRedis, type RedisProcess } from '../helpers/redis.js';

export const CLUSTER_CLIENTS = [
  { id: 'c1', value: 0.1, n: 10 },
  { id: 'c2', value: -0.2, n: 30 },
  { id: 'c3', value: 0.3, n: 20 },
  { id: 'c4', value: 0.05, n: 5 },
  { id: 'c5', value: -0.4, n: 15 },
  { id: 'c6', value: 0.25, n: 25 },
] as const;

export type ClusterTestClient = (typeof CLUSTER_CLIENTS)[number];

/**
 * One real Redis for the calling test file: started before its tests, stopped after. The
 * returned object reads through to it (use it inside tests, not at module level).
 */
export function useRedis(): RedisProcess {
  let redis: RedisProcess | undefined;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  const current = (): RedisProcess => {
    if (redis === undefined) throw new Error('Redis is not started yet: use it inside a test');
    return redis;
  };
  return {
    get port() {
      return current().port;
    },
    get url() {
      return current().url;
    },
    restart: () => current().restart(),
    stop: () => current().stop(),
  };
}

/** The id of the task a federation has in flight (ids carry a random suffix), read from Redis. */
export function currentTaskId(redis: RedisProcess, federationId: string): string {
  const [raw] = redisCommand(redis.port, ['GET', `fedkit:${federationId}:task`]);
  if (raw === undefined) throw new Error(`federation ${federationId} has no task in Redis`);
  return (JSON.parse(raw) as { id: string }).id;
}
