/**
 * PartialFlusher against a real Redis: a reply acknowledged only once stored, and one that
 * lands while a write is in flight (the usual last reply of a round) is stored by close()
 * instead of refused. Redis is held busy by a Lua script so that the write is in flight.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStrategy } from '@fedkit/aggregation';
import { createLogger } from '../src/logger.js';
import { ClusterKeys } from '../src/cluster/keys.js';
import { PartialFlusher } from '../src/cluster/partial-flusher.js';
import { openTask, readEvents, type ClusterTask } from '../src/cluster/round-task.js';
import { startRedis, type RedisProcess } from '../../../tests/helpers/redis.js';

const layout = [{ name: 'w', shape: [4], dtype: 'float32' as const }];
// Busy-waits inside Redis for ARGV[1] ms: every other command queues behind it.
const HOLD_REDIS = `local t = redis.call('TIME') local start = t[1] * 1000000 + t[2]
while true do local n = redis.call('TIME') if n[1] * 1000000 + n[2] - start > tonumber(ARGV[1]) * 1000 then break end end return 1`;

let redisProcess: RedisProcess;
let redis: Redis;
let blocker: Redis;

beforeAll(async () => {
  redisProcess = await startRedis();
  redis = new Redis(redisProcess.url);
  blocker = new Redis(redisProcess.url);
});

afterAll(async () => {
  redis.disconnect();
  blocker.disconnect();
  await redisProcess.stop();
});

async function openRound(taskId: string): Promise<{ keys: ClusterKeys; flusher: PartialFlusher; fold: (clientId: string) => Promise<void> }> {
  const keys = new ClusterKeys('fedkit-test', taskId);
  const task: ClusterTask = { id: taskId, round: 1, attempt: 1, modelVersion: 0, deadlineAt: Date.now() + 60_000, config: { epochs: 1, batchSize: 10, learningRate: 0.1 }, assignments: {} };
  await redis.set(keys.lock, 'p1');
  expect(await openTask(redis, keys, task, 'p1')).toBe(true);
  const accumulator = createStrategy('fedavg').beginTrain(1, new Float32Array(4), layout);
  const flusher = PartialFlusher.forAccumulator(redis, keys, 'p1', task, accumulator, createLogger('silent'), 20);
  const fold = (clientId: string): Promise<void> => {
    accumulator.add({ clientId, numExamples: 1, update: new Float32Array([1, 2, 3, 4]), metrics: {} });
    return flusher.folded(clientId);
  };
  return { keys, flusher, fold };
}

describe('PartialFlusher', () => {
  it('acknowledges a reply once the partial holding it is in Redis', async () => {
    const { keys, fold } = await openRound('t-ack');
    await fold('a');
    const events = (await readEvents(redis, keys, 't-ack', 0, createLogger('silent'))).events;
    expect(events.flatMap((e) => e.answered)).toEqual(['a']);
  });

  it('stores, not refuses, a reply that arrived while a write was in flight when the round closes', async () => {
    const { keys, flusher, fold } = await openRound('t-inflight');
    const hold = blocker.eval(HOLD_REDIS, 0, '300');
    await new Promise((resolve) => setTimeout(resolve, 20)); // Redis is now busy
    const first = fold('a');
    await new Promise((resolve) => setTimeout(resolve, 30)); // a's write is queued behind the script
    const second = fold('b');
    const closed = flusher.close();
    await hold;
    await expect(first).resolves.toBeUndefined();
    await expect(second).resolves.toBeUndefined();
    await closed;
    const events = (await readEvents(redis, keys, 't-inflight', 0, createLogger('silent'))).events;
    // Two writes: a's (in flight while b was folded) and b's own; one write would mean the
    // test never had a write in flight.
    expect(events.map((e) => e.answered)).toEqual([['a'], ['b']]);
  });

  it('refuses with round-closed a reply folded after close()', async () => {
    const { flusher, fold } = await openRound('t-after');
    await flusher.close();
    await expect(fold('late')).rejects.toMatchObject({ code: 'round-closed' });
  });
  it('refuses, without retrying, replies whose partial cannot be encoded (an accumulator with no exportPartial)', async () => {
    const keys = new ClusterKeys('fedkit-test', 't-noexport');
    const accumulator = createStrategy('fedavg').beginTrain(1, new Float32Array(4), layout);
    const withoutExport = { add: (r: Parameters<typeof accumulator.add>[0]) => accumulator.add(r), get count() { return accumulator.count; } } as unknown as typeof accumulator;
    const flusher = PartialFlusher.forAccumulator(redis, keys, 'p1', { id: 't-noexport', deadlineAt: Date.now() + 60_000 }, withoutExport, createLogger('silent'), 20);
    await expect(flusher.folded('a')).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('cannot export a partial sum') });
    await flusher.close();
    expect((await readEvents(redis, keys, 't-noexport', 0, createLogger('silent'))).events).toEqual([]);
  });
});
