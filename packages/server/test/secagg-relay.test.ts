/**
 * A process's SecAgg+ relay (cluster/secagg-relay.ts) against a real Redis, on its error
 * paths: a missing or malformed round description drops every local client (the drop-outs
 * are forwarded to the coordinator), and a reply that cannot be forwarded (Redis away, the
 * task closed) makes its client a drop-out instead of leaving it stuck as "answered".
 * The process's clients are stand-ins that record what the relay emits to them.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FedkitError, packBinaryFields, type SecAggReplyMessage, type SecAggRequestMessage } from '@fedkit/protocol';
import { createLogger } from '../src/logger.js';
import { RoundPhase } from '../src/round-phase.js';
import type { SyncContext } from '../src/sync/sync-context.js';
import type { ClusterLink } from '../src/cluster/cluster-link.js';
import { ClusterKeys } from '../src/cluster/keys.js';
import { closeTask, openTask, type ClusterTask } from '../src/cluster/round-task.js';
import { parseForwarded, SecAggChannel, secAggKeyTtlMs } from '../src/cluster/secagg-channel.js';
import { SecAggRelay } from '../src/cluster/secagg-relay.js';
import { startRedis, type RedisProcess } from '../../../tests/helpers/redis.js';

const PROCESS = 'p1';
const ROUND = 1;

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

/** `redis`, except that its next `faults.evals` EVALs fail as ioredis fails a command while Redis is down. */
function flaky(faults: { evals: number }): Redis {
  return new Proxy(redis, {
    get(target, property, receiver) {
      if (property === 'eval' && faults.evals > 0) {
        return () => {
          faults.evals--;
          return Promise.reject(new Error('Connection is closed.'));
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

interface Setup {
  relay: SecAggRelay;
  phase: RoundPhase;
  running: Promise<void>;
  keys: ClusterKeys;
  task: ClusterTask;
  emitted: SecAggRequestMessage[];
  /** The relay's logger.error calls. */
  errors: unknown[][];
}

/**
 * Opens task `taskId` with clients c1, c2 on this process, writes `meta` (a string as is,
 * null: none) and c1's setup request, and starts the relay.
 */
async function relayFor(taskId: string, meta: string | null | 'valid', link: Partial<ClusterLink> = {}): Promise<Setup> {
  const keys = new ClusterKeys('fedkit-test', taskId);
  const task: ClusterTask = { id: taskId, round: ROUND, attempt: 1, modelVersion: 0, deadlineAt: Date.now() + 60_000, config: { epochs: 1, batchSize: 10, learningRate: 0.1 }, assignments: { c1: PROCESS, c2: PROCESS } };
  await redis.set(keys.lock, 'coordinator');
  expect(await openTask(redis, keys, task, 'coordinator')).toBe(true);
  const channel = new SecAggChannel(redis, keys, taskId, secAggKeyTtlMs(10_000, 1000));
  if (meta === 'valid') await channel.writeMeta({ taskId, round: ROUND, ids: { c1: 1, c2: 2 }, vectorLength: 4, modulusBits: 16 });
  else if (meta !== null) await redis.set(`${keys.base}:secagg:${taskId}:meta`, meta);
  await channel.sendRequests([{ processId: PROCESS, clientId: 'c1', message: { round: ROUND, stage: 'setup', payload: { kind: 'secagg-setup' } } }]);
  const emitted: SecAggRequestMessage[] = [];
  const socket = { emit: (_event: string, message: SecAggRequestMessage) => emitted.push(message) };
  const logger = createLogger('silent');
  const errors = vi.spyOn(logger, 'error').mock.calls;
  const ctx = {
    options: { roundDeadlineMs: 10_000, cluster: { pollMs: 10, coordinatorLockTtlMs: 1000 } },
    logger,
    connections: new Map([['c1', { socket }], ['c2', { socket }]]),
  } as unknown as SyncContext;
  const relay = new SecAggRelay(ctx, { redis, keys, processId: PROCESS, ...link }, task, new Set(['c1', 'c2']));
  const phase = new RoundPhase('train', ROUND, new Set(['c1', 'c2']), 60_000);
  const running = relay.run(phase, []);
  return { relay, phase, running, keys, task, emitted, errors };
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function forwarded(keys: ClusterKeys, taskId: string): Promise<ReturnType<typeof parseForwarded>[]> {
  return (await redis.lrange(`${keys.base}:secagg:${taskId}:replies`, 0, -1)).map(parseForwarded);
}

function setupReply(from: number): SecAggReplyMessage {
  const { payload, data } = packBinaryFields({ kind: 'secagg-keys', round: ROUND, from, cipherPublicKey: new Uint8Array(32).fill(1), maskPublicKey: new Uint8Array(32).fill(2) });
  return { round: ROUND, stage: 'setup', payload, data };
}

async function codeOf(reply: Promise<void> | (() => Promise<void>)): Promise<string> {
  try {
    await (typeof reply === 'function' ? reply() : reply);
  } catch (error) {
    return error instanceof FedkitError ? error.code : `not coded: ${String(error)}`;
  }
  return 'accepted';
}

const noTransfer = (): Uint8Array => {
  throw new Error('no transfer in this test');
};

describe('SecAggRelay without a usable round description', () => {
  it.each([
    ['a missing meta', 'meta-missing', null],
    ['a meta that is not JSON', 'meta-not-json', '{'],
    ['a meta of the wrong shape', 'meta-shape', JSON.stringify({ taskId: 'x', round: -1, ids: {}, vectorLength: 0, modulusBits: 99 })],
  ])('%s drops every local client and forwards the drop-outs; no request is relayed', async (_what, taskId, meta) => {
    const { relay, phase, running, keys, emitted, errors } = await relayFor(taskId, meta);
    await until(async () => (await forwarded(keys, taskId)).length === 2);
    const lines = await forwarded(keys, taskId);
    expect(lines.map((l) => (l.kind === 'drop' ? [l.clientId, l.code, l.processId] : l.kind)).sort()).toEqual([
      ['c1', 'internal', PROCESS],
      ['c2', 'internal', PROCESS],
    ]);
    // A reply now is refused: no stage was ever opened for the client.
    expect(await codeOf(async () => relay.onReply('c1', setupReply(1), noTransfer))).toBe('round-not-open');
    phase.close();
    await running;
    expect(emitted).toEqual([]);
    // A malformed description is logged as such; a missing one is only the drop-outs.
    expect(errors.map((args) => args[1])).toEqual(meta === null ? [] : ['secure aggregation: the round description in Redis is malformed']);
  });
});

describe('SecAggRelay when a reply cannot be forwarded', () => {
  it('Redis failing the write: the client gets redis-unreachable and is a drop-out, forwarded once Redis answers', async () => {
    const taskId = 'forward-redis-down';
    const faults = { evals: 0 };
    const { relay, phase, running, keys, emitted } = await relayFor(taskId, 'valid', { redis: flaky(faults) });
    await until(() => emitted.length === 1);
    // The relay's Redis now fails the forward (one EVAL); the drop-out's write goes through.
    faults.evals = 1;
    expect(await codeOf(relay.onReply('c1', setupReply(1), noTransfer))).toBe('redis-unreachable');
    await until(async () => (await forwarded(keys, taskId)).length === 1);
    expect((await forwarded(keys, taskId)).map((l) => (l.kind === 'drop' ? [l.clientId, l.code] : l.kind))).toEqual([['c1', 'redis-unreachable']]);
    // Not stuck as "answered" (duplicate-update) but gone from the round.
    expect(await codeOf(async () => relay.onReply('c1', setupReply(1), noTransfer))).toBe('round-closed');
    phase.close();
    await running;
  });

  it('the task closed before the write: the client gets round-closed and is a drop-out, not duplicate-update on a retry', async () => {
    const taskId = 'forward-closed';
    const { relay, phase, running, keys, emitted } = await relayFor(taskId, 'valid');
    await until(() => emitted.length === 1);
    await closeTask(redis, keys, taskId, 'coordinator');
    expect(await codeOf(relay.onReply('c1', setupReply(1), noTransfer))).toBe('round-closed');
    expect(await codeOf(async () => relay.onReply('c1', setupReply(1), noTransfer))).toBe('round-closed');
    // Nothing lands once the task is closed: neither the reply nor the drop-out.
    phase.close();
    await running;
    expect(await forwarded(keys, taskId)).toEqual([]);
  });

  it('a reply forwarded while the task is open is stored once and acknowledged; a second is duplicate-update', async () => {
    const taskId = 'forward-ok';
    const { relay, phase, running, keys, emitted } = await relayFor(taskId, 'valid');
    await until(() => emitted.length === 1);
    expect(await codeOf(relay.onReply('c1', setupReply(1), noTransfer))).toBe('accepted');
    expect(await codeOf(async () => relay.onReply('c1', setupReply(1), noTransfer))).toBe('duplicate-update');
    expect((await forwarded(keys, taskId)).map((l) => (l.kind === 'reply' ? [l.kind, l.clientId, l.message.stage] : l.kind))).toEqual([['reply', 'c1', 'setup']]);
    phase.close();
    await running;
  });
});
