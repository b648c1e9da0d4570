/**
 * What cluster-mode secure aggregation reads back from Redis is checked before use
 * (cluster/secagg-channel.ts): forwarded replies and drop-outs, the coordinator's requests,
 * and the processes' stored masked sums. Each malformed input is refused with
 * `invalid-message` naming what is wrong; well-formed ones round-trip with their bytes.
 * The keys' TTL outlasts the round however long its deadline (checked on a real Redis).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { FedkitError } from '@fedkit/protocol';
import { ClusterKeys } from '../src/cluster/keys.js';
import { openTask } from '../src/cluster/round-task.js';
import { decodeMaskedSum, encodeMaskedSum, parseForwarded, parseInbox, SecAggChannel, secAggKeyTtlMs } from '../src/cluster/secagg-channel.js';
import { startRedis } from '../../../tests/helpers/redis.js';

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof FedkitError) return { code: error.code, message: error.message };
    return { code: `not coded: ${String(error)}`, message: '' };
  }
  return { code: 'accepted', message: '' };
}

describe('secure-aggregation lines in Redis', () => {
  it('a forwarded reply round-trips its bytes; drop-outs and masked notes parse', () => {
    const reply = parseForwarded(JSON.stringify({ kind: 'reply', processId: 'p1', clientId: 'c1', message: { round: 3, stage: 'setup', payload: { k: { bin: [0, 2] } }, data: Buffer.from([7, 9]).toString('base64') } }));
    expect(reply.kind).toBe('reply');
    if (reply.kind === 'reply') expect([...(reply.message.data as Uint8Array)]).toEqual([7, 9]);
    expect(parseForwarded(JSON.stringify({ kind: 'drop', processId: 'p1', clientId: 'c1', code: 'client-disconnected', message: 'gone' }))).toMatchObject({ kind: 'drop', code: 'client-disconnected' });
    expect(parseForwarded(JSON.stringify({ kind: 'masked', processId: 'p1', clients: ['c1', 'c4'] }))).toEqual({ kind: 'masked', processId: 'p1', clients: ['c1', 'c4'] });
    const request = parseInbox(JSON.stringify({ clientId: 'c2', message: { round: 1, stage: 'unmask', payload: {} } }));
    expect(request).toEqual({ clientId: 'c2', message: { round: 1, stage: 'unmask', payload: {} } });
  });

  it.each([
    ['not JSON', '{', 'not JSON'],
    ['an unknown kind', JSON.stringify({ kind: 'masked-vector', processId: 'p1' }), 'field "kind"'],
    ['an unknown error code', JSON.stringify({ kind: 'drop', processId: 'p1', clientId: 'c1', code: 'oops', message: '' }), 'field "code"'],
    ['a stage that does not exist', JSON.stringify({ kind: 'reply', processId: 'p1', clientId: 'c1', message: { round: 1, stage: 'finish', payload: {} } }), 'field "message.stage"'],
    ['a negative round', JSON.stringify({ kind: 'reply', processId: 'p1', clientId: 'c1', message: { round: -1, stage: 'setup', payload: {} } }), 'field "message.round"'],
    ['data that is not base64', JSON.stringify({ kind: 'reply', processId: 'p1', clientId: 'c1', message: { round: 1, stage: 'setup', payload: {}, data: '%%' } }), 'field "message.data"'],
    ['an extra field', JSON.stringify({ kind: 'masked', processId: 'p1', clients: [], update: [1, 2] }), 'update'],
    ['an empty client id', JSON.stringify({ kind: 'drop', processId: 'p1', clientId: '', code: 'client-error', message: '' }), 'field "clientId"'],
  ])('a forwarded line with %s is refused', (_what, line, names) => {
    const { code, message } = refusal(() => parseForwarded(line));
    expect(code).toBe('invalid-message');
    expect(message).toContain(names);
  });

  it('a malformed request from the coordinator is refused', () => {
    expect(refusal(() => parseInbox(JSON.stringify({ clientId: 'c1' }))).code).toBe('invalid-message');
  });
});

describe('stored masked sums', () => {
  it('round-trip the contributors and the words', () => {
    const words = Uint32Array.of(1, 2 ** 32 - 1, 5);
    const decoded = decodeMaskedSum(encodeMaskedSum(['c1', 'c3'], words), 2);
    expect(decoded.contributors).toEqual(['c1', 'c3']);
    expect([...new Uint32Array(decoded.masked.buffer, decoded.masked.byteOffset, 3)]).toEqual([...words]);
  });

  it.each([
    ['too short', Buffer.from([1, 0])],
    ['a header longer than the bytes', Buffer.from([200, 0, 0, 0, 1])],
    ['the wrong number of words', encodeMaskedSum(['c1'], Uint32Array.of(1, 2))],
    ['no contributors', encodeMaskedSum([], Uint32Array.of(1, 2, 3))],
    ['a header that is not JSON', Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from('{{{'), Buffer.alloc(1 + 12)])],
  ])('%s are refused', (_what, bytes) => {
    expect(refusal(() => decodeMaskedSum(bytes, 2)).code).toBe('invalid-message');
  });
});

describe('the TTL of the secure-aggregation keys', () => {
  it('is 10 minutes for short rounds and outlasts a long round plus a lock takeover', () => {
    expect(secAggKeyTtlMs(10_000, 3000)).toBe(10 * 60_000);
    const deadlineMs = 30 * 60_000;
    expect(secAggKeyTtlMs(deadlineMs, 3000)).toBe(deadlineMs + 3000 + 60_000);
    // Setup alone gets 70% of a 15-minute deadline (10.5 min): longer than the old fixed 10 min.
    expect(secAggKeyTtlMs(15 * 60_000, 3000)).toBeGreaterThan(15 * 60_000 + 3000);
  });

  it('is the TTL every key of a long round gets in Redis', async () => {
    const redisProcess = await startRedis();
    const redis = new Redis(redisProcess.url);
    try {
      const keys = new ClusterKeys('fedkit-test', 'ttl');
      const ttlMs = secAggKeyTtlMs(60 * 60_000, 3000);
      await redis.set(keys.lock, 'coordinator');
      expect(await openTask(redis, keys, { id: 't1', round: 1, attempt: 1, modelVersion: 0, deadlineAt: Date.now() + 60_000, config: { epochs: 1, batchSize: 10, learningRate: 0.1 }, assignments: { c1: 'p1' } }, 'coordinator')).toBe(true);
      const channel = new SecAggChannel(redis, keys, 't1', ttlMs);
      await channel.writeMeta({ taskId: 't1', round: 1, ids: { c1: 1 }, vectorLength: 2, modulusBits: 16 });
      await channel.setStage('collect-masked');
      await channel.sendRequests([{ processId: 'p1', clientId: 'c1', message: { round: 1, stage: 'collect-masked', payload: {} } }]);
      expect(await channel.forward({ kind: 'drop', processId: 'p1', clientId: 'c1', code: 'client-disconnected', message: 'gone' })).toBe(true);
      expect(await channel.storeMasked('p1', encodeMaskedSum(['c1'], Uint32Array.of(1, 2, 3)), ['c1'])).toBe(true);
      const parts = ['meta', 'stage', 'inbox:p1', 'replies', 'masked'];
      const ttls = await Promise.all(parts.map((part) => redis.pttl(`${keys.base}:secagg:t1:${part}`)));
      for (const [i, ttl] of ttls.entries()) {
        expect(ttl, parts[i]).toBeGreaterThan(60 * 60_000);
        expect(ttl, parts[i]).toBeLessThanOrEqual(ttlMs);
      }
      await channel.dropKeys(['p1']);
      expect(await redis.exists(...parts.map((part) => `${keys.base}:secagg:t1:${part}`))).toBe(0);
    } finally {
      redis.disconnect();
      await redisProcess.stop();
    }
  });
});
