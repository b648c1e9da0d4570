// Three server processes' worth of FederationServer, sharing one federation through a real
// Redis, with real socket.io clients split between them: rounds complete and the model is
// the one a single server computes from the same updates.
import { describe, expect, it } from 'vitest';
import { FederationServer, type FederationServerOptions } from '@fedkit/server';
import type { FedkitClient, LocalTrainer } from '@fedkit/client-core';
import { seededRandomSource } from '@fedkit/protocol';
import { constantTrainer, startClient, startServer, tinyModel } from '../helpers/federation.js';
import { redisCommand, redisCommandWithInput } from '../helpers/redis.js';
import { encodePartial } from '../../packages/server/src/cluster/partial-codec.js';
import { CLUSTER_CLIENTS, currentTaskId, useRedis } from './cluster-fixture.js';

const redis = useRedis();

const CLIENTS = CLUSTER_CLIENTS;

function clusterServer(federationId: string, processId: string, overrides: Partial<FederationServerOptions> = {}): FederationServer {
  return new FederationServer({
    model: tinyModel,
    random: seededRandomSource(7),
    rounds: 3,
    minClients: 6,
    evaluate: { every: 0 },
    roundDeadlineMs: 20_000,
    cluster: { redisUrl: redis.url, federationId, processId, pollMs: 20, coordinatorLockTtlMs: 1000, heartbeatTtlMs: 1000 },
    ...overrides,
  });
}

/** A client's trainer: its constant update, after `delayMs` (to hold a round open). */
function trainerOf(c: (typeof CLIENTS)[number], evalExamples: number, delayMs: number): LocalTrainer {
  const trainer = constantTrainer((r) => c.value * r, c.n, evalExamples);
  if (delayMs === 0) return trainer;
  return { ...trainer, train: async (...args) => (await new Promise((resolve) => setTimeout(resolve, delayMs)), trainer.train(...args)) };
}

async function runCluster(federationId: string, overrides: Partial<FederationServerOptions> = {}, during?: (servers: FederationServer[]) => Promise<void>, evalExamples = 0, trainDelayMs = 0) {
  const servers = ['p1', 'p2', 'p3'].map((p) => clusterServer(federationId, p, overrides));
  const ports = await Promise.all(servers.map((s) => s.listen(0)));
  const clients: FedkitClient[] = CLIENTS.map((c, i) => startClient(`http://127.0.0.1:${ports[i % 3]}`, c.id, trainerOf(c, evalExamples, trainDelayMs), true));
  try {
    const running = Promise.all(servers.map((s) => s.run()));
    if (during !== undefined) await during(servers);
    const summaries = await running;
    // The coordinator's 'finished' reaches every client, on every process (redis adapter).
    const finished = await Promise.all(clients.map((c) => c.start()));
    return { servers, summaries, finished };
  } finally {
    for (const c of clients) c.stop();
    await Promise.all(servers.map((s) => s.close()));
  }
}

async function runSingle(overrides: Partial<FederationServerOptions> = {}, evalExamples = 0) {
  const { server, url } = await startServer({ rounds: 3, minClients: 6, ...overrides });
  const clients = CLIENTS.map((c) => startClient(url, c.id, constantTrainer((r) => c.value * r, c.n, evalExamples)));
  try {
    const summary = await server.run();
    return { server, summary, weights: server.currentWeights().slice() };
  } finally {
    for (const c of clients) c.stop();
    await server.close();
  }
}

describe('cluster mode on Redis', () => {
  it('three processes complete the rounds and reach the single-process model', async () => {
    const single = await runSingle();
    const { servers, summaries, finished } = await runCluster('rounds');
    expect(finished.map((f) => f.reason)).toEqual(Array(6).fill('completed'));
    for (const summary of summaries) {
      expect(summary.reason).toBe('completed');
      expect(summary.roundsCompleted).toBe(3);
    }
    expect(single.summary.roundsCompleted).toBe(3);
    for (const server of servers) {
      expect(server.modelVersion).toBe(3);
      const w = server.currentWeights();
      for (let i = 0; i < w.length; i++) expect(w[i]).toBeCloseTo(single.weights[i]!, 5);
    }
    const completed = summaries[0]!.rounds.filter((r) => r.status === 'completed');
    expect(completed.map((r) => r.replied)).toEqual([6, 6, 6]);
  });

  it('junk in Redis (a member record, a task report, stored partials, the control record) is left out with a warning; the rounds still complete', async () => {
    const single = await runSingle();
    const base = 'fedkit:junk';
    const { servers, summaries } = await runCluster(
      'junk',
      {},
      async () => {
        redisCommand(redis.port, ['SADD', `${base}:procs`, 'ghost']);
        redisCommand(redis.port, ['SET', `${base}:proc:ghost`, '{"processId":"ghost","clients":"many"}', 'PX', '60000']);
        redisCommand(redis.port, ['SET', `${base}:control`, '{"paused":"please"}']);
        // Round 1 is held open (each client takes 300 ms): add a bad report, garbage bytes
        // as a partial, and a well-formed partial from a process that holds none of the
        // clients it names (merged, it would move the model by 1000).
        await expect.poll(() => redisCommand(redis.port, ['EXISTS', `${base}:open`]), { timeout: 5000, interval: 5 }).toEqual(['1']);
        const taskId = currentTaskId(redis, 'junk');
        redisCommand(redis.port, ['RPUSH', `${base}:events:${taskId}`, 'not json']);
        redisCommand(redis.port, ['HSET', `${base}:partials:${taskId}`, 'ghost', 'garbage']);
        const forged = encodePartial({ kind: 'weighted-mean', count: 1, totalWeight: 10, counters: {}, metrics: {}, clients: ['c1'], sum: new Float64Array(tinyModel.weights.length).fill(10_000) });
        redisCommandWithInput(redis.port, ['HSET', `${base}:partials:${taskId}`, 'ghost2'], forged);
      },
      0,
      300,
    );
    for (const summary of summaries) expect(summary.roundsCompleted).toBe(3);
    expect(summaries[0]!.rounds.filter((r) => r.status === 'completed').map((r) => r.replied)).toEqual([6, 6, 6]);
    for (const server of servers) {
      const w = server.currentWeights();
      for (let i = 0; i < w.length; i++) expect(w[i]).toBeCloseTo(single.weights[i]!, 5);
    }
  });

  it('encrypted updates: each process seals its clients\' updates to its own round key, opens them, and the sums add as in one process', async () => {
    const single = await runSingle({ encryptUpdates: true });
    const { servers, summaries } = await runCluster('encrypted', { encryptUpdates: true });
    for (const summary of summaries) expect(summary.roundsCompleted).toBe(3);
    expect(summaries[0]!.rounds.filter((r) => r.status === 'completed').map((r) => r.replied)).toEqual([6, 6, 6]);
    for (const server of servers) {
      const w = server.currentWeights();
      for (let i = 0; i < w.length; i++) expect(w[i]).toBeCloseTo(single.weights[i]!, 5);
    }
  });

  it.each([
    ['fedadam', { strategy: { name: 'fedadam', serverLearningRate: 0.05 } }],
    ['fedavgm', { strategy: { name: 'fedavgm', momentum: 0.9 } }],
  ] as const)('%s: the server optimizer steps on the combined partial sums as in one process', async (name, overrides) => {
    const single = await runSingle(overrides);
    const { servers } = await runCluster(`opt-${name}`, overrides);
    for (const server of servers) {
      const w = server.currentWeights();
      for (let i = 0; i < w.length; i++) expect(w[i]).toBeCloseTo(single.weights[i]!, 5);
    }
  });

  it('central DP: each process clips its clients, the coordinator noises once, every round is charged once', async () => {
    const privacy = { mode: 'central' as const, clipNorm: 0.5, noiseMultiplier: 0.3, expectedClients: 6, budget: { epsilon: 1000, delta: 1e-5 } };
    const { servers, summaries } = await runCluster('dp-central', { privacy, random: seededRandomSource(3), allowSeededRandom: true });
    for (const summary of summaries) expect(summary.roundsCompleted).toBe(3);
    for (const server of servers) {
      const privacyStatus = server.status().privacy;
      expect(privacyStatus.roundsCharged).toBe(3);
      expect(server.modelVersion).toBe(3);
    }
    const eps = servers.map((s) => s.status().privacy.epsilon);
    expect(new Set(eps).size).toBe(1);
    // Clipping happened where the updates arrived: the update norms (up to 0.4·3·√8) exceed S = 0.5.
    const last = summaries[0]!.rounds.at(-1)!;
    expect(last.train.dpClipNorm).toBe(0.5);
    expect(last.replied).toBe(6);
  });

  it('Redis restarted mid-run (its data lost): processes reconnect, the coordinator republishes, training completes', async () => {
    const { servers, summaries } = await runCluster('restart', { rounds: 4 }, async (all) => {
      // The coordinator (whichever it is) records round 1; Redis dies while round 2 trains.
      await Promise.race(all.map((s) => new Promise<void>((resolve) => s.once('round', () => resolve()))));
      await redis.restart();
    });
    for (const summary of summaries) expect(summary.reason).toBe('completed');
    for (const server of servers) expect(server.modelVersion).toBe(4);
    // Each round completed once, on the newest model (no process republished an older one).
    for (const summary of summaries) expect(summary.rounds.filter((r) => r.status === 'completed').map((r) => [r.round, r.modelVersion])).toEqual([[1, 1], [2, 2], [3, 3], [4, 4]]);
  });

  it('pause, resume and stop sent to any process reach the coordinator (shared through Redis)', async () => {
    const { servers, summaries } = await runCluster('control', { rounds: 50 }, async (all) => {
      // Paused on one process before any round: the coordinator, wherever it is, holds.
      all[1]!.control.pause();
      await expect.poll(() => all.every((s) => s.control.paused), { timeout: 5000 }).toBe(true);
      await expect.poll(() => all.some((s) => s.stage === 'paused'), { timeout: 5000 }).toBe(true);
      expect(all.every((s) => s.modelVersion === 0)).toBe(true);
      // While paused, /api/status: each process names itself, lists its own two clients and
      // counts the whole cluster's three processes and six clients; one of them coordinates.
      await expect.poll(() => all.map((s) => s.status().cluster?.clientsTotal), { timeout: 5000 }).toEqual([6, 6, 6]);
      const statuses = all.map((s) => s.status());
      expect(statuses.map((s) => [s.cluster?.processId, s.cluster?.processes, s.clients.total])).toEqual([
        ['p1', 3, 2],
        ['p2', 3, 2],
        ['p3', 3, 2],
      ]);
      expect(statuses.filter((s) => s.cluster?.coordinator === true)).toHaveLength(1);
      // Resumed on another: rounds run; stopped on a third: training ends after the round in progress.
      all[2]!.control.resume();
      await expect.poll(() => Math.max(...all.map((s) => s.modelVersion)), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      all[0]!.control.stop();
    });
    for (const summary of summaries) expect(summary.reason).toBe('stopped');
    const completed = Math.max(...servers.map((s) => s.modelVersion));
    expect(completed).toBeGreaterThanOrEqual(2);
    expect(completed).toBeLessThan(50);
  });

  it('the coordinator stopped during a federated evaluation: the round stays recorded once, the evaluation task is closed, training goes on', async () => {
    const federationId = 'eval-handover';
    const servers = ['p1', 'p2', 'p3'].map((p) => clusterServer(federationId, p, { rounds: 2, minClients: 4, sampling: { fraction: 1, minFit: 4 }, evaluate: { every: 1, fraction: 1, deadlineMs: 10_000 } }));
    const ports = await Promise.all(servers.map((s) => s.listen(0)));
    const clients = CLIENTS.map((c, i) => {
      const trainer = constantTrainer((r) => c.value * r, c.n, 4);
      // Round 1's evaluation takes a while, so the coordinator can be stopped during it.
      const slowEvaluate: LocalTrainer = { ...trainer, evaluate: async (...args) => (await new Promise((resolve) => setTimeout(resolve, 400)), trainer.evaluate(...args)) };
      return startClient(`http://127.0.0.1:${ports[i % 3]}`, c.id, slowEvaluate, true);
    });
    try {
      const running = servers.map((s) => s.run());
      await expect.poll(() => redisCommand(redis.port, ['GET', `fedkit:${federationId}:task`]).join(''), { timeout: 10_000, interval: 5 }).toContain('"kind":"evaluate"');
      const coordinator = servers.find((s) => s.status().cluster?.coordinator === true)!;
      const evaluation = currentTaskId(redis, federationId);
      await coordinator.close();
      const survivors = servers.filter((s) => s !== coordinator);
      const summaries = await Promise.all(running.filter((_, i) => servers[i] !== coordinator));
      for (const summary of summaries) {
        expect(summary.reason).toBe('completed');
        // Round 1 recorded once (published with the model; its evaluation was cut short).
        expect(summary.rounds.filter((r) => r.status === 'completed').map((r) => r.round)).toEqual([1, 2]);
      }
      for (const s of survivors) expect(s.modelVersion).toBe(2);
      // The successor closed the evaluation its predecessor left open.
      expect(redisCommand(redis.port, ['GET', `fedkit:${federationId}:open`])).not.toContain(evaluation);
    } finally {
      for (const c of clients) c.stop();
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('/api/status counts the cluster: a process that leaves drops out of every other process\'s census', async () => {
    const servers = ['p1', 'p2', 'p3'].map((p) => clusterServer('census', p));
    const ports = await Promise.all(servers.map((s) => s.listen(0)));
    const clients = CLIENTS.map((c, i) => startClient(`http://127.0.0.1:${ports[i % 3]}`, c.id, constantTrainer(c.value, c.n)));
    try {
      await expect.poll(() => servers.map((s) => s.status().cluster), { timeout: 5000 }).toEqual(
        ['p1', 'p2', 'p3'].map((processId) => ({ processId, coordinator: false, processes: 3, clientsTotal: 6 })),
      );
      await servers[2]!.close();
      await expect.poll(() => servers.slice(0, 2).map((s) => s.status().cluster), { timeout: 5000 }).toEqual(
        ['p1', 'p2'].map((processId) => ({ processId, coordinator: false, processes: 2, clientsTotal: 4 })),
      );
    } finally {
      for (const c of clients) c.stop();
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('federated evaluation: each process asks its sampled clients, the coordinator combines the replies as one process does', async () => {
    const evaluate = { every: 1, fraction: 1 };
    const single = await runSingle({ evaluate }, 4);
    const { summaries } = await runCluster('evaluate', { evaluate }, undefined, 4);
    const expected = single.summary.rounds.map((r) => r.federatedEvaluation);
    expect(expected.every((e) => e?.numClients === 6)).toBe(true);
    for (const summary of summaries) {
      const completed = summary.rounds.filter((r) => r.status === 'completed');
      expect(completed.map((r) => r.federatedEvaluation)).toEqual(expected);
      expect(completed.map((r) => r.accuracy)).toEqual(expected.map((e) => e!.accuracy));
    }
  });
});
