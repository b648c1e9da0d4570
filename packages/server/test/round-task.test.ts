// The round task's Redis writes, on a real Redis: opening and closing are fenced by the
// coordinator lock, ids never repeat, report keys outlive a long deadline, and dropping a
// recorded task keeps a newer task's record.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterKeys } from '../src/cluster/keys.js';
import { closeTask, dropTaskKeys, newTaskId, openTask, readTask, reportPartial, taskKeysTtlMs, type ClusterTask } from '../src/cluster/round-task.js';
import { startRedis, type RedisProcess } from '../../../tests/helpers/redis.js';

let redisProcess: RedisProcess;
let redis: Redis;
beforeAll(async () => {
  redisProcess = await startRedis();
  redis = new Redis(redisProcess.url);
});
afterAll(async () => {
  redis.disconnect();
  await redisProcess.stop();
});

function task(id: string, deadlineInMs = 60_000): ClusterTask {
  return { id, round: 1, attempt: 1, modelVersion: 0, deadlineAt: Date.now() + deadlineInMs, config: { epochs: 1, batchSize: 10, learningRate: 0.1 }, assignments: { c1: 'p1' } };
}

describe('round task in Redis', () => {
  it('only the lock holder opens and closes a task', async () => {
    const keys = new ClusterKeys('fedkit-test', 'fenced');
    await redis.set(keys.lock, 'p1');
    expect(await openTask(redis, keys, task('t1'), 'p2')).toBe(false);
    expect((await readTask(redis, keys)).task).toBeNull();
    expect(await openTask(redis, keys, task('t1'), 'p1')).toBe(true);
    expect(await readTask(redis, keys)).toMatchObject({ task: { id: 't1' }, openId: 't1' });
    await closeTask(redis, keys, 't1', 'p2');
    expect((await readTask(redis, keys)).openId).toBe('t1');
    await closeTask(redis, keys, 't1', 'p1');
    expect((await readTask(redis, keys)).openId).toBeNull();
  });

  it('task ids carry a random suffix, so two coordinators never produce the same one', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newTaskId('r1a1')));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^r1a1-[0-9a-f]{8}$/);
  });

  it('report keys live until 10 minutes past the deadline, however long the round', async () => {
    const keys = new ClusterKeys('fedkit-test', 'ttl');
    await redis.set(keys.lock, 'p1');
    const long = task('t-long', 3 * 3600_000);
    expect(taskKeysTtlMs(long)).toBeGreaterThan(3 * 3600_000 + 9 * 60_000);
    expect(taskKeysTtlMs(task('t-past', -60_000))).toBe(10 * 60_000);
    expect(await openTask(redis, keys, long, 'p1')).toBe(true);
    expect(await reportPartial(redis, keys, long, { processId: 'p1', answered: [], failed: [] }, Buffer.from('x'))).toBe(true);
    expect(await redis.pttl(keys.partials('t-long'))).toBeGreaterThan(3 * 3600_000);
    expect(await redis.pttl(keys.events('t-long'))).toBeGreaterThan(3 * 3600_000);
  });

  it('dropping a recorded task deletes its reports, and its record only while it is the current one', async () => {
    const keys = new ClusterKeys('fedkit-test', 'drop');
    await redis.set(keys.lock, 'p1');
    expect(await openTask(redis, keys, task('old'), 'p1')).toBe(true);
    await reportPartial(redis, keys, task('old'), { processId: 'p1', answered: ['c1'], failed: [] }, Buffer.from('x'));
    expect(await openTask(redis, keys, task('new'), 'p1')).toBe(true);
    await dropTaskKeys(redis, keys, 'old');
    expect(await redis.exists(keys.partials('old'), keys.events('old'))).toBe(0);
    expect((await readTask(redis, keys)).task?.id).toBe('new');
    await dropTaskKeys(redis, keys, 'new');
    expect((await readTask(redis, keys)).task).toBeNull();
  });
});
