/**
 * Asynchronous (FedBuff) mode over real sockets: clients of different speeds train on
 * whatever version they hold and the server publishes a version every K updates; stale
 * updates are refused with `update-stale` or folded down-weighted; updates for versions
 * never published, for other clients' tasks or twice are refused; K = 1; central DP charges
 * ε per published version; federated evaluation and the target stop a run; shutdown is
 * graceful; bad input never crashes the server.
 *
 * Async runs are timing-dependent (which client trains on which version depends on who is
 * fast), so these tests assert what holds whatever the interleaving, or pin the
 * interleaving with hand-driven raw clients.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FedkitClient, LocalTrainer } from '@fedkit/client-core';
import { computeEpsilon } from '@fedkit/privacy';
import type { AckReply } from '@fedkit/protocol';
import type { FederationServer, FederationServerOptions, RoundMetrics } from '@fedkit/server';
import { constantTrainer, nextEvent, startClient, startServer, tinyModel } from '../helpers/federation.js';
import { linearEvaluate, linearSamples, linearTrainer } from '../helpers/linear-task.js';
import { connectRaw, type RawClient } from '../helpers/raw-client.js';

let server: FederationServer | undefined;
const clients: FedkitClient[] = [];
const raws: (RawClient & { clientId: string })[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.stop();
  for (const r of raws.splice(0)) r.close();
  await server?.close();
  server = undefined;
});

const P = tinyModel.weights.length;

function errorOf(reply: AckReply): { code: string; message: string } | undefined {
  return reply.ok ? undefined : reply.error;
}

/** `trainer`, `delayMs` slower. */
function delayed<T extends LocalTrainer>(trainer: T, delayMs: number): T {
  return {
    ...trainer,
    async train(global, config, context) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return trainer.train(global, config, context);
    },
  };
}

async function asyncServer(async: Record<string, unknown>, overrides: Partial<FederationServerOptions> = {}) {
  const started = await startServer({ mode: 'async', async: { maxStaleness: 10, failureBackoffMs: 0, ...async } as never, ...overrides });
  server = started.server;
  return started;
}

async function rawJoined(url: string): Promise<RawClient & { clientId: string }> {
  const raw = await connectRaw(url);
  raws.push(raw);
  expect((await raw.hello()).ok).toBe(true);
  return raw;
}

const versionReached = (s: FederationServer, version: number) => nextEvent<RoundMetrics>((l) => s.on('round', l), (m) => m.round >= version);

describe('async mode', () => {
  it('learns a synthetic regression with clients of different speeds, publishing a version every K updates', async () => {
    const evalSet = linearSamples(999, 200);
    const { url } = await asyncServer(
      { bufferSize: 2, maxStaleness: 50, maxVersions: 40 },
      { minClients: 3, train: { epochs: 2, batchSize: null, learningRate: 0.3 }, centralEvaluate: async (w) => linearEvaluate(w, evalSet) },
    );
    const run = server!.run();
    const trainers = [linearTrainer(1, { delayMs: 0 }), linearTrainer(2, { delayMs: 10 }), linearTrainer(3, { delayMs: 40 })];
    trainers.forEach((t, i) => clients.push(startClient(url, `speed-${i}`, t)));
    const summary = await run;

    expect(summary).toMatchObject({ reason: 'completed', message: 'published 40 model versions', roundsCompleted: 40 });
    expect(summary.rounds.map((r) => r.round)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    for (const r of summary.rounds) {
      expect(r).toMatchObject({ status: 'completed', modelVersion: r.round, replied: 2, async: { updatesFolded: 2 } });
      expect(r.async!.stalenessMax).toBeLessThanOrEqual(50);
      expect(r.train.stalenessMean).toBe(r.async!.stalenessMean);
      expect(r.centralEvaluation).toBeDefined();
    }
    // Every folded update came from a task sent before its version was published.
    expect(summary.rounds.reduce((n, r) => n + r.async!.tasksSent, 0)).toBeGreaterThanOrEqual(80);
    // The slow client trains on versions the fast ones have moved past.
    expect(Math.max(...summary.rounds.map((r) => r.async!.stalenessMax))).toBeGreaterThan(0);
    expect(trainers[2]!.rounds.length).toBeGreaterThan(0);
    const before = linearEvaluate(tinyModel.weights, evalSet).loss;
    expect(summary.finalLoss!).toBeLessThan(before / 20);
    expect(server!.modelVersion).toBe(40);
    const status = (await (await fetch(`${url}/api/status`)).json()) as { modelVersion: number; roundsCompleted: number };
    expect(status).toMatchObject({ modelVersion: 40, roundsCompleted: 40 });
    await expect(clients[0]!.finished).resolves.toMatchObject({ reason: 'completed' });
  });

  it('sends each task the current version and its task number, and K = 1 publishes every update', async () => {
    const { url } = await asyncServer({ bufferSize: 1, maxVersions: 4, staleness: { kind: 'constant' } }, { minClients: 2 });
    const run = server!.run();
    const versionsSeen: number[] = [];
    for (const id of ['k1-a', 'k1-b']) {
      const client = startClient(url, id, delayed(constantTrainer(0.01), 5));
      client.on('train-start', (msg) => versionsSeen.push(msg.modelVersion));
      clients.push(client);
    }
    const summary = await run;
    expect(summary.roundsCompleted).toBe(4);
    expect(summary.rounds.every((r) => r.replied === 1 && r.async!.updatesFolded === 1)).toBe(true);
    // Constant weights: each version is the previous one plus exactly one update.
    Array.from(server!.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 4 * 0.01, 6));
    expect(versionsSeen.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...versionsSeen)).toBeLessThanOrEqual(4);
  });

  it('caps the clients training at once at `concurrency`', async () => {
    let running = 0;
    let peak = 0;
    const counting = (): LocalTrainer => {
      const inner = constantTrainer(0);
      return {
        ...inner,
        async train(global, config, context) {
          running++;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
          return inner.train(global, config, context);
        },
      };
    };
    const { url } = await asyncServer({ bufferSize: 2, maxVersions: 5, concurrency: 1 }, { minClients: 3 });
    const run = server!.run();
    for (const id of ['cc-a', 'cc-b', 'cc-c']) clients.push(startClient(url, id, counting()));
    expect((await run).roundsCompleted).toBe(5);
    expect(peak).toBe(1);
  });
});

describe('stale updates', () => {
  it("refuses an update staler than maxStaleness with update-stale (staleRefusal 'refuse') and never applies it", async () => {
    const { url } = await asyncServer({ bufferSize: 1, maxStaleness: 1, maxVersions: 100_000, staleness: { kind: 'constant' } }, { minClients: 2 });
    const raw = await rawJoined(url);
    void server!.run();
    // Zero updates: the model only changes if the stale update gets in.
    clients.push(startClient(url, 'fast', delayed(constantTrainer(0), 5)));
    const task = await raw.nextTrain();
    expect(task.modelVersion).toBe(0);
    await versionReached(server!, 3);
    const rejected = nextEvent<{ clientId: string | null; code: string }>((l) => server!.on('rejected', l), (r) => r.clientId === raw.clientId);
    const { result } = await raw.sendUpdate(task.round, new Float32Array(P).fill(100), { extra: { baseModelVersion: 0 } });
    expect(errorOf(result)).toMatchObject({ code: 'update-stale', message: expect.stringMatching(/trained on model version 0, \d+ versions behind the current \d+; at most 1 are accepted/) });
    expect((await rejected).code).toBe('update-stale');
    expect(Array.from(server!.currentWeights())).toEqual(Array.from(tinyModel.weights));
    // The refused client is given a fresh task on a recent version at once.
    const fresh = await raw.nextTrain();
    expect(fresh.round).toBeGreaterThan(task.round);
    expect(fresh.modelVersion).toBeGreaterThanOrEqual(3);
  });

  it("folds an update staler than maxStaleness weighted by s(τ) (staleRefusal 'down-weight')", async () => {
    const { url } = await asyncServer(
      { bufferSize: 1, maxStaleness: 1, maxVersions: 100_000, staleRefusal: 'down-weight', staleness: { kind: 'polynomial', exponent: 1 } },
      { minClients: 2 },
    );
    const raw = await rawJoined(url);
    void server!.run();
    const fast = startClient(url, 'fast', delayed(constantTrainer(0), 5));
    clients.push(fast);
    const task = await raw.nextTrain();
    await versionReached(server!, 3);
    const left = nextEvent<string>((l) => server!.on('client-left', l), (id) => id === 'fast');
    fast.stop();
    await left;
    // Only the raw client is left: the version stays put until its update arrives.
    const tau = server!.modelVersion;
    expect(tau).toBeGreaterThanOrEqual(3);
    const published = versionReached(server!, tau + 1);
    const { result } = await raw.sendUpdate(task.round, new Float32Array(P).fill(1), { extra: { baseModelVersion: 0 } });
    expect(result).toEqual({ ok: true });
    const record = await published;
    expect(record.async).toMatchObject({ downWeighted: 1, stalenessMax: tau, updatesFolded: 1 });
    // s(τ) = 1/(1 + τ): w ← w + Δ/(1 + τ).
    Array.from(server!.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 1 / (1 + tau), 6));
  });
});

describe('updates the server cannot place', () => {
  it('refuses a version never published, another client’s task, an unsent task and a duplicate', async () => {
    const { url } = await asyncServer({ bufferSize: 2, maxVersions: 10, staleness: { kind: 'constant' } }, { minClients: 2 });
    const a = await rawJoined(url);
    const b = await rawJoined(url);
    void server!.run();
    const [ta, tb] = await Promise.all([a.nextTrain(), b.nextTrain()]);
    expect([ta.modelVersion, tb.modelVersion]).toEqual([0, 0]);
    expect(ta.round).not.toBe(tb.round);

    const future = await a.sendUpdate(ta.round, new Float32Array(P).fill(1), { extra: { baseModelVersion: 7 } });
    expect(errorOf(future.result)).toMatchObject({ code: 'invalid-message', message: expect.stringContaining('model version 7 was never published (the latest is 0)') });
    const theirs = await b.sendUpdate(ta.round, new Float32Array(P).fill(1));
    expect(errorOf(theirs.result)?.code).toBe('not-selected');
    const unsent = await b.sendUpdate(999, new Float32Array(P).fill(1));
    expect(errorOf(unsent.result)).toMatchObject({ code: 'round-not-open', message: expect.stringContaining('train task 999 was never sent') });
    expect((await b.sendUpdate(tb.round, new Float32Array(P).fill(1), { extra: { baseModelVersion: 0 } })).result).toEqual({ ok: true });
    expect(errorOf((await b.sendUpdate(tb.round, new Float32Array(P).fill(1))).result)?.code).toBe('duplicate-update');
    expect(server!.modelVersion).toBe(0);

    // a's refused task is closed; it gets a new one on version 0, whose update completes the buffer.
    const again = await a.nextTrain();
    expect(again.modelVersion).toBe(0);
    expect(errorOf((await a.sendUpdate(ta.round, new Float32Array(P).fill(3))).result)?.code).toBe('round-closed');
    const published = versionReached(server!, 1);
    expect((await a.sendUpdate(again.round, new Float32Array(P).fill(3), { extra: { baseModelVersion: 0 } })).result).toEqual({ ok: true });
    expect((await published).replied).toBe(2);
    // Equal example counts: w1 = w0 + (1 + 3)/2.
    Array.from(server!.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 2, 6));
  });

  it('never crashes on bad input, and keeps training', async () => {
    const { url } = await asyncServer({ bufferSize: 1, maxVersions: 3 }, { minClients: 1 });
    const raw = await rawJoined(url);
    const run = server!.run();
    const task = await raw.nextTrain();
    // Untrusted payloads on purpose: past the typed event map.
    const socket = raw.socket as unknown as { emitWithAck(event: string, payload: unknown): Promise<AckReply> };
    const emit = (event: string, payload: unknown): Promise<AckReply> => socket.emitWithAck(event, payload);
    for (const payload of [null, 42, { round: 'x' }, { round: task.round, transferId: 'nope', numExamples: -1, layout: [], metrics: {} }]) {
      expect(errorOf(await emit('train-result', payload))?.code).toBe('invalid-message');
    }
    expect(errorOf(await emit('train-result', { round: task.round, transferId: 'never-sent', numExamples: 1, layout: tinyModel.layout, metrics: {}, baseModelVersion: -1 }))?.code).toBe('invalid-message');
    expect(errorOf(await emit('train-error', { round: 12345, error: { code: 'x', message: 'y' } }))?.code).toBe('round-not-open');
    expect(errorOf(await emit('evaluate-result', { round: 0, numExamples: 1, loss: 1, accuracy: 0.5 }))?.code).toBe('round-not-open');
    const wrongLayout = await raw.sendUpdate(task.round, new Float32Array(P), { layout: [{ name: 'dense/kernel', shape: [8] }] });
    expect(errorOf(wrongLayout.result)?.code).toBe('update-shape-mismatch');
    const next = await raw.nextTrain();
    const nan = new Float32Array(P);
    nan[3] = Number.NaN;
    expect(errorOf((await raw.sendUpdate(next.round, nan)).result)?.code).toBe('update-not-finite');
    const third = await raw.nextTrain();
    expect(errorOf(await emit('train-error', { round: third.round, error: { code: 'training-failed', message: 'out of memory' } }))).toBeUndefined();
    expect(server!.modelVersion).toBe(0);
    // A well-behaved client still trains the model to the end.
    clients.push(startClient(url, 'good', delayed(constantTrainer(0.5), 2)));
    const summary = await run;
    expect(summary).toMatchObject({ reason: 'completed', roundsCompleted: 3 });
    expect(summary.rounds[0]!.failed.map((f) => f.code)).toEqual(expect.arrayContaining(['update-shape-mismatch', 'update-not-finite', 'training-failed']));
  });
});

describe('async mode with central DP, evaluation and shutdown', () => {
  it('charges ε once per published version (q = K / joined clients) and stops before the budget', async () => {
    const budget = { epsilon: 10, delta: 1e-5 };
    const { url } = await asyncServer(
      { bufferSize: 2, maxVersions: 10_000, staleness: { kind: 'constant' } },
      { minClients: 3, allowSeededRandom: true, privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1.5, expectedClients: 2, budget } },
    );
    const run = server!.run();
    for (const id of ['dp-a', 'dp-b', 'dp-c']) clients.push(startClient(url, id, delayed(constantTrainer(1), 2)));
    const summary = await run;
    expect(summary.reason).toBe('budget-exhausted');
    expect(summary.message).toMatch(/^stopped before model version \d+: the next round would exceed the privacy budget/);
    const versions = summary.roundsCompleted;
    expect(versions).toBeGreaterThan(1);
    const q = 2 / 3;
    const spent = computeEpsilon({ samplingRate: q, noiseMultiplier: 1.5, steps: versions, delta: budget.delta });
    const next = computeEpsilon({ samplingRate: q, noiseMultiplier: 1.5, steps: versions + 1, delta: budget.delta });
    expect(spent.epsilon).toBeLessThanOrEqual(budget.epsilon);
    expect(next.epsilon).toBeGreaterThan(budget.epsilon);
    summary.rounds.forEach((r, i) => {
      expect(r.privacy).toMatchObject({ mode: 'central', roundsCharged: i + 1, lastRound: { samplingRate: q, noiseMultiplier: 1.5, clipNorm: 1 } });
      expect(r.train).toMatchObject({ dpClipNorm: 1, dpNoiseMultiplier: 1.5 });
    });
    expect(summary.rounds[versions - 1]!.privacy!.epsilon).toBeCloseTo(spent.epsilon, 9);
    await expect(clients[0]!.finished).resolves.toMatchObject({ reason: 'budget-exhausted' });
  });

  it('evaluates published versions on clients as they become idle and stops at the target accuracy', async () => {
    const { url } = await asyncServer(
      { bufferSize: 2, maxVersions: 500 },
      { minClients: 3, targetAccuracy: 0.9, evaluate: { every: 1, deadlineMs: 5000 }, train: { epochs: 2, batchSize: null, learningRate: 0.3 } },
    );
    const run = server!.run();
    [1, 2, 3].forEach((seed) => clients.push(startClient(url, `eval-${seed}`, linearTrainer(seed, { delayMs: seed * 3, numEvalExamples: 50 }))));
    const summary = await run;
    expect(summary.reason).toBe('completed');
    expect(summary.message).toMatch(/^reached target accuracy 0.9 at model version \d+$/);
    const evaluated = summary.rounds.filter((r) => r.federatedEvaluation !== undefined);
    expect(evaluated.length).toBeGreaterThan(0);
    const reached = Number(/model version (\d+)$/.exec(summary.message)![1]);
    const hit = summary.rounds.find((r) => r.round === reached)!;
    expect(hit.federatedEvaluation).toMatchObject({ numClients: 3, numExamples: 150 });
    expect(hit.accuracy).toBeGreaterThanOrEqual(0.9);
    // Versions published while that evaluation ran are recorded after it, unevaluated.
    expect(summary.rounds.filter((r) => r.round > reached).every((r) => r.federatedEvaluation === undefined)).toBe(true);
    // Versions published while an evaluation ran are recorded without one.
    expect(summary.rounds.every((r) => r.federatedEvaluation === undefined || r.accuracy === r.federatedEvaluation.accuracy)).toBe(true);
  });

  it('follows the operator: pause sends no new task, resume does, stop ends training', async () => {
    const { url } = await asyncServer({ bufferSize: 1, maxVersions: 100 }, { minClients: 1 });
    const raw = await rawJoined(url);
    const run = server!.run();
    const trainsSeen: number[] = [];
    raw.socket.on('train', (msg) => trainsSeen.push(msg.round));
    const first = await raw.nextTrain();
    const paused = nextEvent<string>((l) => server!.on('stage', l), (stage) => stage === 'paused');
    expect(server!.control.pause()).toBe(true);
    await paused;
    // The task in flight is still folded while paused.
    expect((await raw.sendUpdate(first.round, new Float32Array(P).fill(0.5))).result).toEqual({ ok: true });
    expect(server!.modelVersion).toBe(1);
    // One more round trip on the same socket: a task sent after that ack would have arrived first.
    await raw.socket.emitWithAck('evaluate-result', { round: 0, numExamples: 1, loss: 1, accuracy: 1 } as never);
    expect(trainsSeen).toEqual([first.round]);
    server!.control.resume();
    const second = await raw.nextTrain();
    expect(second).toMatchObject({ round: first.round + 1, modelVersion: 1 });
    server!.control.stop();
    await expect(run).resolves.toMatchObject({ reason: 'stopped', message: 'stopped by an operator at model version 1', roundsCompleted: 1 });
    expect(errorOf((await raw.sendUpdate(second.round, new Float32Array(P))).result)?.code).toBe('round-not-open');
  });

  it('persists each published version with a data dir and resumes from it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fedkit-async-'));
    const first = await asyncServer({ bufferSize: 1, maxVersions: 3, staleness: { kind: 'constant' } }, { minClients: 1, dataDir });
    const run = server!.run();
    clients.push(startClient(first.url, 'persist-a', delayed(constantTrainer(0.25), 2)));
    expect(await run).toMatchObject({ reason: 'completed', roundsCompleted: 3 });
    const saved = Array.from(server!.currentWeights());
    for (const c of clients.splice(0)) c.stop();
    await server!.close();
    const second = await asyncServer({ bufferSize: 1, maxVersions: 5, staleness: { kind: 'constant' } }, { minClients: 1, dataDir });
    expect(server!.modelVersion).toBe(3);
    expect(Array.from(server!.currentWeights())).toEqual(saved);
    const resumed = server!.run();
    clients.push(startClient(second.url, 'persist-a', delayed(constantTrainer(0.25), 2)));
    const summary = await resumed;
    expect(summary).toMatchObject({ reason: 'completed', message: 'published 5 model versions' });
    expect(summary.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
    Array.from(server!.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 5 * 0.25, 5));
  });

  it('shuts down gracefully mid-run and tells the clients', async () => {
    const { url } = await asyncServer({ bufferSize: 1, maxVersions: 100_000 }, { minClients: 2 });
    const run = server!.run();
    for (const id of ['sd-a', 'sd-b']) clients.push(startClient(url, id, delayed(constantTrainer(0.001), 3)));
    await versionReached(server!, 2);
    await server!.close();
    const summary = await run;
    expect(summary.reason).toBe('server-shutting-down');
    expect(summary.roundsCompleted).toBeGreaterThanOrEqual(2);
    await expect(clients[0]!.finished).resolves.toMatchObject({ reason: 'server-shutting-down' });
    server = undefined;
  });
});
