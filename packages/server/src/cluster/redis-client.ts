/**
 * Redis connections for cluster mode (ioredis). At start a process must reach Redis within
 * `connectTimeoutMs` or fail with `redis-unreachable` naming the URL: no endless retry at
 * start. Once connected, a lost connection is retried forever in the background (Redis
 * restarted) and commands fail fast meanwhile, so callers retry on their next tick.
 */
import { Redis } from 'ioredis';
import { FedkitError } from '@fedkit/protocol';
import type { Logger } from '../logger.js';

/** The URL with any password replaced, fit for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*)@/, (_m, scheme: string, auth: string) => `${scheme}${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`);
}

/**
 * Connects to `url`; throws `FedkitError('redis-unreachable')` naming the URL when Redis does
 * not answer a PING within `timeoutMs`.
 */
export async function connectRedis(url: string, timeoutMs: number, logger: Logger, role: string): Promise<Redis> {
  let connected = false;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    // Before the first connection: no retry (fail at start). After: back off up to 500 ms, forever.
    retryStrategy: (times) => (connected ? Math.min(50 * times, 500) : null),
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
  });
  let lastError = '';
  redis.on('error', (error: Error) => {
    lastError = error.message;
    if (connected) logger.warn({ role, err: error.message }, `redis ${redactRedisUrl(url)}: ${error.message}`);
  });
  const fail = (reason: string): FedkitError => new FedkitError('redis-unreachable', `cluster.redisUrl: cannot reach Redis at ${redactRedisUrl(url)} within ${timeoutMs} ms: ${reason}`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      (async () => {
        await redis.connect();
        await redis.ping();
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer')), timeoutMs);
      }),
    ]);
  } catch (error) {
    redis.disconnect();
    throw fail(lastError || (error as Error).message);
  } finally {
    clearTimeout(timer);
  }
  connected = true;
  return redis;
}

/**
 * A duplicate of `redis` for the socket.io adapter's publishing side, whose `publish` never
 * rejects: the adapter does not catch its publishes, and an unhandled rejection while Redis
 * restarts must not crash the server (the broadcast is logged as lost instead).
 */
export function adapterPublisher(redis: Redis, logger: Logger): Redis {
  const pub = redis.duplicate();
  logConnectionErrors(pub, logger, 'adapter-publish');
  const publish = pub.publish.bind(pub) as (channel: string | Buffer, message: string | Buffer) => Promise<number>;
  (pub as unknown as { publish: typeof publish }).publish = (channel, message) =>
    publish(channel, message).catch((error: Error) => {
      logger.warn({ err: error.message }, 'a cluster broadcast could not be published (Redis unavailable)');
      return 0;
    });
  return pub;
}

/** Logs a connection's errors (ioredis reconnects by itself; an unlistened 'error' would throw). */
export function logConnectionErrors(redis: Redis, logger: Logger, role: string): void {
  redis.on('error', (error: Error) => logger.warn({ role, err: error.message }, `redis (${role}): ${error.message}`));
}

/** Connects once and disconnects: throws `redis-unreachable` naming the URL when Redis does not answer. */
export async function checkRedisReachable(url: string, timeoutMs: number, logger: Logger): Promise<void> {
  const redis = await connectRedis(url, timeoutMs, logger, 'check');
  redis.disconnect();
}
