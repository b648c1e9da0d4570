// Secure aggregation (SecAgg+) in cluster mode: three FederationServers sharing one
// federation through a real Redis, real socket.io clients spread over them. One SecAgg+
// round spans every process (the coordinator runs the state machine, the others relay);
// the model equals the weighted mean one process computes, within quantization error.
// Drop-outs on a non-coordinator process, a process that stops mid-round, distributed DP,
// and forged lines in Redis are covered too.
import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { FedkitClient, type ClientSocket } from '@fedkit/client-core';
import { seededRandomSource, type SecAggRequestMessage } from '@fedkit/protocol';
import { DEFAULT_QUANTIZATION, quantizeWeight } from '@fedkit/privacy/secagg';
import { FederationServer, type FederationServerOptions } from '@fedkit/server';
import { constantTrainer, startServer, tinyModel } from '../helpers/federation.js';
import { CLUSTER_CLIENTS, currentTaskId, useRedis, type ClusterTestClient } from './cluster-fixture.js';
import { redisCommand } from '../helpers/redis.js';

const redis = useRedis();

const CLIENTS = CLUSTER_CLIENTS;
const PROCESSES = ['p1', 'p2', 'p3'];
/** Client i connects to process i mod 3: c1, c4 → p1; c2, c5 → p2; c3, c6 → p3. */
const processOf = (i: number): number => i % 3;

type Hook = (msg: SecAggRequestMessage, socket: ClientSocket, clientId: string) => void;

function clusterServer(federationId: string, processId: string, overrides: Partial<FederationServerOptions>): FederationServer {
  return new FederationServer({
    model: tinyModel,
    random: seededRandomSource(7),
    rounds: 2,
    minClients: 6,
    evaluate: { every: 0 },
    roundDeadlineMs: 10_000,
    maxRoundAttempts: 1,
    secureAggregation: { enabled: true },
    cluster: { redisUrl: redis.url, federationId, processId, pollMs: 20, coordinatorLockTtlMs: 1000, heartbeatTtlMs: 1000 },
    ...overrides,
  });
}

/** A real FedkitClient; `hook` sees each secagg request before the client does. */
function client(url: string, c: ClusterTestClient, hook?: Hook): FedkitClient {
  const socket = io(url, { transports: ['websocket'], autoConnect: false, reconnection: false, forceNew: true }) as ClientSocket;
  if (hook !== undefined) socket.on('secagg', (msg) => hook(msg, socket, c.id));
  const fedkit = new FedkitClient({ socket, clientId: c.id, trainer: constantTrainer(c.value, c.n), platform: 'node', backend: 'test' });
  void fedkit.start().catch(() => undefined);
  return fedkit;
}

/**
 * Runs the cluster with p1 as coordinator: p1 starts competing for the lock first, the
 * others once it holds it.
 */
async function runCluster(federationId: string, overrides: Partial<FederationServerOptions> = {}, hook?: Hook) {
  const servers = PROCESSES.map((p) => clusterServer(federationId, p, overrides));
  const ports = await Promise.all(servers.map((s) => s.listen(0)));
  const clients = CLIENTS.map((c, i) => client(`http://127.0.0.1:${ports[processOf(i)]}`, c, hook));
  const rejected: { server: number; clientId: string | null; code: string }[] = [];
  servers.forEach((s, i) => s.on('rejected', (r) => rejected.push({ server: i, clientId: r.clientId, code: r.code })));
  try {
    const first = servers[0]!.run();
    await until(() => redisCommand(redis.port, ['GET', `fedkit:${federationId}:lock`])[0] === 'p1');
    const summaries = await Promise.all([first, ...servers.slice(1).map((s) => s.run())]);
    return { servers, summaries, rejected, weights: servers.map((s) => s.currentWeights().slice()) };
  } finally {
    for (const c of clients) c.stop();
    await Promise.all(servers.map((s) => s.close()));
  }
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** global + rounds · Σ rᵢvᵢ / Σ rᵢ with the weights as quantized for upload, and the quantization tolerance. */
function expected(members: readonly ClusterTestClient[], rounds: number): { weights: Float64Array; tolerance: number } {
  let total = 0;
  let sum = 0;
  for (const { value, n } of members) {
    const r = quantizeWeight(n, DEFAULT_QUANTIZATION).relative;
    total += r;
    sum += r * value;
  }
  const step = (2 * DEFAULT_QUANTIZATION.clippingRange) / (DEFAULT_QUANTIZATION.quantizationRange - 1);
  const weights = Float64Array.from(tinyModel.weights, (w) => w + (rounds * sum) / total);
  return { weights, tolerance: rounds * ((members.length * step) / total + 1e-6) };
}

/** The contributor list in the JSON header of a stored masked sum (read as text; the words after it are binary). */
function contributorsOf(stored: string): string[] {
  const list = /"contributors":(\[[^\]]*\])/.exec(stored)?.[1];
  return list === undefined ? [] : (JSON.parse(list) as string[]).sort();
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!));
  return worst;
}

describe('cluster mode: secure aggregation (SecAgg+) across processes', () => {
  it('three processes run SecAgg+ rounds and reach the model one process reaches, within quantization error', async () => {
    const { server: single, url } = await startServer({ rounds: 2, minClients: 6, secureAggregation: { enabled: true }, random: seededRandomSource(7) });
    const singleClients = CLIENTS.map((c) => client(url, c));
    const singleSummary = await single.run();
    const singleWeights = single.currentWeights().slice();
    for (const c of singleClients) c.stop();
    await single.close();
    expect(singleSummary.roundsCompleted).toBe(2);

    // When unmasking starts, Redis holds one masked sum per process, each of its own two clients.
    const federationId = 'secagg-rounds';
    let stored: Record<string, string[]> | null = null;
    const peek: Hook = (msg) => {
      if (msg.stage !== 'unmask' || stored !== null) return;
      const key = `fedkit:${federationId}:secagg:${currentTaskId(redis, federationId)}:masked`;
      stored = Object.fromEntries(redisCommand(redis.port, ['HKEYS', key]).map((p) => [p, contributorsOf(redisCommand(redis.port, ['HGET', key, p]).join('\n'))]));
    };
    const { servers, summaries, weights, rejected } = await runCluster(federationId, {}, peek);
    expect(stored).toEqual({ p1: ['c1', 'c4'], p2: ['c2', 'c5'], p3: ['c3', 'c6'] });
    const want = expected(CLIENTS, 2);
    for (const summary of summaries) expect(summary.roundsCompleted).toBe(2);
    expect(summaries[0]!.rounds.map((r) => [r.status, r.replied, r.failed.length])).toEqual([
      ['completed', 6, 0],
      ['completed', 6, 0],
    ]);
    for (const [i, w] of weights.entries()) {
      expect(servers[i]!.modelVersion).toBe(2);
      expect(maxAbsDiff(w, want.weights)).toBeLessThanOrEqual(want.tolerance);
      expect(maxAbsDiff(w, singleWeights)).toBeLessThanOrEqual(2 * want.tolerance);
    }
    expect(rejected).toEqual([]);
  });

  it('a client on a non-coordinator process vanishes after sharing keys: its masks are removed, the round completes without it', async () => {
    const vanish: Hook = (msg, socket, clientId) => {
      if (clientId === 'c2' && msg.stage === 'collect-masked') socket.disconnect();
    };
    const { summaries, weights } = await runCluster('secagg-dropout', { rounds: 1 }, vanish);
    const round = summaries[0]!.rounds[0]!;
    expect(round.status).toBe('completed');
    expect(round.replied).toBe(5);
    expect(round.failed.map((f) => [f.clientId, f.code])).toEqual([['c2', 'client-disconnected']]);
    const want = expected(CLIENTS.filter((c) => c.id !== 'c2'), 1);
    for (const w of weights) expect(maxAbsDiff(w, want.weights)).toBeLessThanOrEqual(want.tolerance);
  });

  it('a process that stops during share-keys takes its clients with it: they are drop-outs, the others complete the round', async () => {
    let servers: FederationServer[] = [];
    let stopping: Promise<void> | null = null;
    const stopP3: Hook = (msg, _socket, clientId) => {
      if (clientId === 'c3' && msg.stage === 'share-keys' && stopping === null) stopping = servers[2]!.close();
    };
    const overrides: Partial<FederationServerOptions> = { rounds: 1 };
    const federationId = 'secagg-process-stops';
    servers = PROCESSES.map((p) => clusterServer(federationId, p, overrides));
    const ports = await Promise.all(servers.map((s) => s.listen(0)));
    const clients = CLIENTS.map((c, i) => client(`http://127.0.0.1:${ports[processOf(i)]}`, c, stopP3));
    try {
      const first = servers[0]!.run();
      await until(() => redisCommand(redis.port, ['GET', `fedkit:${federationId}:lock`])[0] === 'p1');
      const others = servers.slice(1).map((s) => s.run());
      const summary = await first;
      await Promise.all(others);
      const round = summary.rounds[0]!;
      expect(round.status).toBe('completed');
      expect(round.replied).toBe(4);
      expect(round.failed.map((f) => f.clientId).sort()).toEqual(['c3', 'c6']);
      const want = expected(CLIENTS.filter((c) => c.id !== 'c3' && c.id !== 'c6'), 1);
      expect(maxAbsDiff(servers[0]!.currentWeights(), want.weights)).toBeLessThanOrEqual(want.tolerance);
    } finally {
      for (const c of clients) c.stop();
      await stopping;
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('the coordinator stops mid-round: another process takes the lock and retries the SecAgg+ round with the clients left', async () => {
    let servers: FederationServer[] = [];
    let stopping: Promise<void> | null = null;
    const stopCoordinator: Hook = (msg) => {
      if (msg.stage === 'share-keys' && stopping === null) stopping = servers[0]!.close();
    };
    const federationId = 'secagg-coordinator-stops';
    const overrides: Partial<FederationServerOptions> = { rounds: 1, minClients: 4, maxRoundAttempts: 2 };
    servers = PROCESSES.map((p) => clusterServer(federationId, p, overrides));
    const ports = await Promise.all(servers.map((s) => s.listen(0)));
    const clients = CLIENTS.map((c, i) => client(`http://127.0.0.1:${ports[processOf(i)]}`, c, stopCoordinator));
    try {
      await until(() => servers.every((s) => s.status().clients.total === 2));
      const first = servers[0]!.run();
      await until(() => redisCommand(redis.port, ['GET', `fedkit:${federationId}:lock`])[0] === 'p1');
      const others = await Promise.all(servers.slice(1).map((s) => s.run()));
      await first;
      for (const summary of others) expect(summary.roundsCompleted).toBe(1);
      const round = others[0]!.rounds.find((r) => r.status === 'completed')!;
      expect(round.attempt).toBe(2);
      expect(round.replied).toBe(4);
      // c1 and c4 left with p1; the retry sampled the clients of p2 and p3.
      const want = expected(CLIENTS.filter((c) => c.id !== 'c1' && c.id !== 'c4'), 1);
      for (const s of servers.slice(1)) expect(maxAbsDiff(s.currentWeights(), want.weights)).toBeLessThanOrEqual(want.tolerance);
    } finally {
      for (const c of clients) c.stop();
      await stopping;
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('Redis refusing the coordinator\'s clean-up after unmasking does not throw the unmasked result away', async () => {
    // p1 connects as its own Redis user; once unmasking starts, that user may no longer DEL
    // (closing the task and dropping the keys fail, as when Redis goes away at that moment).
    // A retry would show as a second setup, and would give DEL back so that it can finish.
    redisCommand(redis.port, ['ACL', 'SETUSER', 'coordinator', 'on', '>secret', '~*', '&*', '+@all']);
    const federationId = 'secagg-cleanup-fails';
    let setups = 0;
    let denied = false;
    const refuseDel: Hook = (msg, _socket, clientId) => {
      if (clientId !== 'c2') return;
      if (msg.stage === 'setup' && ++setups > 1) redisCommand(redis.port, ['ACL', 'SETUSER', 'coordinator', '+del']);
      if (msg.stage === 'unmask' && !denied) {
        denied = true;
        redisCommand(redis.port, ['ACL', 'SETUSER', 'coordinator', '-del']);
      }
    };
    const servers = PROCESSES.map((p, i) => clusterServer(federationId, p, { rounds: 1, ...(i === 0 ? { cluster: { redisUrl: redis.url.replace('redis://', 'redis://coordinator:secret@'), federationId, processId: p, pollMs: 20, coordinatorLockTtlMs: 1000, heartbeatTtlMs: 1000 } } : {}) }));
    const ports = await Promise.all(servers.map((s) => s.listen(0)));
    const clients = CLIENTS.map((c, i) => client(`http://127.0.0.1:${ports[processOf(i)]}`, c, refuseDel));
    try {
      const first = servers[0]!.run();
      await until(() => redisCommand(redis.port, ['GET', `fedkit:${federationId}:lock`])[0] === 'p1');
      const summaries = await Promise.all([first, ...servers.slice(1).map((s) => s.run())]);
      expect(denied).toBe(true);
      expect(setups).toBe(1);
      expect(summaries[0]!.rounds.map((r) => [r.status, r.attempt, r.replied])).toEqual([['completed', 1, 6]]);
      const want = expected(CLIENTS, 1);
      for (const s of servers) expect(maxAbsDiff(s.currentWeights(), want.weights)).toBeLessThanOrEqual(want.tolerance);
    } finally {
      redisCommand(redis.port, ['ACL', 'SETUSER', 'coordinator', '+del']);
      for (const c of clients) c.stop();
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('a SecAgg+ attempt a dead coordinator left in flight is closed and its keys dropped; the retry leaves none behind', async () => {
    const federationId = 'secagg-leftover';
    const base = `fedkit:${federationId}`;
    // What a coordinator that died in unmask leaves: the open task and its SecAgg+ keys.
    const task = { id: 'r1a1', kind: 'train', round: 1, attempt: 1, modelVersion: 0, config: { epochs: 1, batchSize: 10, learningRate: 0.1 }, deadlineAt: Date.now() + 60_000, assignments: { c1: 'p1', c2: 'p2', c3: 'p3' } };
    redisCommand(redis.port, ['SET', `${base}:task`, JSON.stringify(task)]);
    redisCommand(redis.port, ['SET', `${base}:open`, 'r1a1']);
    const left = `${base}:secagg:r1a1`;
    redisCommand(redis.port, ['SET', `${left}:meta`, JSON.stringify({ taskId: 'r1a1', round: 1, ids: { c1: 1, c2: 2, c3: 3 }, vectorLength: 4, modulusBits: 16 }), 'PX', '600000']);
    redisCommand(redis.port, ['SET', `${left}:stage`, 'unmask', 'PX', '600000']);
    redisCommand(redis.port, ['RPUSH', `${left}:replies`, JSON.stringify({ kind: 'masked', processId: 'p2', clients: ['c2'] })]);
    redisCommand(redis.port, ['HSET', `${left}:masked`, 'p2', 'a masked sum']);
    for (const p of PROCESSES) redisCommand(redis.port, ['RPUSH', `${left}:inbox:${p}`, JSON.stringify({ clientId: 'c1', message: { round: 1, stage: 'unmask', payload: {} } })]);
    expect(redisCommand(redis.port, ['KEYS', `${left}:*`])).toHaveLength(7);

    const { summaries } = await runCluster(federationId, { rounds: 1, maxRoundAttempts: 2 });
    const round = summaries[0]!.rounds.find((r) => r.status === 'completed')!;
    expect(round.attempt).toBe(2);
    expect(round.replied).toBe(6);
    // Neither the abandoned attempt's keys nor the completed one's are left in Redis.
    expect(redisCommand(redis.port, ['KEYS', `${base}:secagg:*`])).toEqual([]);
  });

  it('distributed DP under SecAgg+: clients clip and noise, the coordinator unmasks the sum, every round is charged once', async () => {
    const privacy = { mode: 'distributed' as const, clipNorm: 0.5, noiseMultiplier: 0.3, expectedClients: 6, budget: { epsilon: 1000, delta: 1e-5 } };
    const { servers, summaries, weights } = await runCluster('secagg-distributed-dp', { privacy, allowSeededRandom: true });
    for (const summary of summaries) expect(summary.roundsCompleted).toBe(2);
    expect(summaries[0]!.rounds.map((r) => r.replied)).toEqual([6, 6]);
    for (const server of servers) expect(server.status().privacy.roundsCharged).toBe(2);
    expect(new Set(servers.map((s) => s.status().privacy.epsilon)).size).toBe(1);
    expect(new Set(weights.map((w) => [...w].join()))).toHaveProperty('size', 1);
    // Clipped updates (|v|·√8 > 0.5 for most clients) move the model less than the plain mean would.
    const plain = expected(CLIENTS, 2).weights;
    expect(maxAbsDiff(weights[0]!, tinyModel.weights)).toBeGreaterThan(0);
    expect(maxAbsDiff(weights[0]!, plain)).toBeGreaterThan(0.01);
  });

  it('bad secagg replies to a relaying process are refused there with codes; a forged sender id makes its client a drop-out', async () => {
    const acks: string[] = [];
    const ask = (socket: ClientSocket, payload: unknown): void => {
      (socket.emit as (event: string, payload: unknown, ack: (reply: { ok: boolean; error?: { code: string } }) => void) => void)('secagg-reply', payload, (reply) => {
        acks.push(reply.ok ? 'ok' : reply.error!.code);
      });
    };
    let sent = false;
    // Sent at once, in order, before the client's own (it answers setup after training).
    const forge: Hook = (msg, socket, clientId) => {
      if (clientId !== 'c2' || msg.stage !== 'setup' || sent) return;
      sent = true;
      ask(socket, { round: 99, stage: 'setup', payload: {} });
      ask(socket, { round: msg.round, stage: 'unmask', payload: {} });
      // c2 has secure-aggregation id 2 (ids follow client-id order): claiming 1 is refused.
      ask(socket, { round: msg.round, stage: 'setup', payload: { kind: 'secagg-keys', round: msg.round, from: 1 } });
    };
    const { summaries, rejected } = await runCluster('secagg-bad-replies', { rounds: 1 }, forge);
    expect(acks.slice(0, 3)).toEqual(['round-closed', 'secagg-stage-invalid', 'invalid-message']);
    // Refused by p2 (server 1), where c2 is connected: the three forged replies, then c2's
    // own setup reply, which comes after it was dropped. Nothing else anywhere.
    expect(rejected).toEqual([
      { server: 1, clientId: 'c2', code: 'round-closed' },
      { server: 1, clientId: 'c2', code: 'secagg-stage-invalid' },
      { server: 1, clientId: 'c2', code: 'invalid-message' },
      { server: 1, clientId: 'c2', code: 'round-closed' },
    ]);
    const round = summaries[0]!.rounds[0]!;
    expect(round.status).toBe('completed');
    expect(round.replied).toBe(5);
    expect(round.failed.map((f) => [f.clientId, f.code])).toEqual([['c2', 'invalid-message']]);
  });

  it('forged lines in Redis (malformed, wrong round, wrong process, a bad masked sum) are refused with codes; the round completes', async () => {
    const federationId = 'secagg-forged';
    let forged = false;
    const forge: Hook = (msg) => {
      if (forged || msg.stage !== 'setup') return;
      forged = true;
      const lines = [
        'not json',
        JSON.stringify({ kind: 'reply', processId: 'p1', clientId: 'c1', message: { round: 99, stage: 'setup', payload: {} } }),
        JSON.stringify({ kind: 'drop', processId: 'p2', clientId: 'c1', code: 'client-error', message: 'forged' }),
        JSON.stringify({ kind: 'reply', processId: 'p1', clientId: 'c1', message: { round: 1, stage: 'setup', payload: { bin: [0, 99] }, data: 'AAAA' } }),
        JSON.stringify({ kind: 'masked', processId: 'p1', clients: 'c1' }),
      ];
      const base = `fedkit:${federationId}:secagg:${currentTaskId(redis, federationId)}`;
      redisCommand(redis.port, ['RPUSH', `${base}:replies`, ...lines]);
      redisCommand(redis.port, ['HSET', `${base}:masked`, 'p9', 'garbage']);
    };
    const { summaries, rejected } = await runCluster(federationId, { rounds: 1 }, forge);
    expect(forged).toBe(true);
    const round = summaries[0]!.rounds[0]!;
    expect(round.status).toBe('completed');
    expect(round.replied).toBe(6);
    // The coordinator (p1, server 0) refused each with its code; nothing else was refused.
    expect(rejected.every((r) => r.server === 0)).toBe(true);
    expect(rejected.map((r) => [r.clientId, r.code])).toEqual([
      [null, 'invalid-message'],
      ['c1', 'round-closed'],
      [null, 'not-selected'],
      ['c1', 'invalid-message'],
      [null, 'invalid-message'],
      [null, 'invalid-message'],
    ]);
  });
});
