import { describe, expect, it } from 'vitest';
import type { RoundMetrics } from '@fedkit/server';
import { constantTrainer, nextEvent, startClient, tinyModel, federationSession } from '../helpers/federation.js';
import type { FedkitClient } from '@fedkit/client-core';

const session = federationSession();

describe('round loop over real sockets', () => {
  it('runs FedAvg rounds: the global model moves by the example-weighted mean of the updates', async () => {
    const started = await session.server({ rounds: 2 });
    const server = started.server;
    const summary = server.run();
    // Updates 1, 2, 4 with weights 10, 20, 10 → mean (10 + 40 + 40) / 40 = 2.25 per round.
    session.client(started.url, 'a', constantTrainer(1, 10));
    session.client(started.url, 'b', constantTrainer(2, 20));
    session.client(started.url, 'c', constantTrainer(4, 10));
    const result = await summary;
    expect(result.reason).toBe('completed');
    expect(result.roundsCompleted).toBe(2);
    const expected = Array.from(tinyModel.weights, (w) => Math.fround(w + 2.25 + 2.25));
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(expected[i]!, 5));
    const [r1] = result.rounds as [RoundMetrics];
    expect(r1).toMatchObject({ round: 1, status: 'completed', selected: 3, replied: 3, failed: [] });
    expect(r1.bytesOut).toBe(3 * 8 * 4);
    expect(r1.bytesIn).toBe(3 * 8 * 4);
    expect(r1.train.loss).toBeCloseTo(2.25, 6);
    // The model given to the server was not mutated.
    expect(tinyModel.weights[0]).toBeCloseTo(0.1, 7);
  });

  it('runs a strategy chosen by name: FedAvgM applies server momentum', async () => {
    const started = await session.server({ rounds: 2, strategy: { name: 'fedavgm', serverLearningRate: 1, momentum: 0.5 } });
    const server = started.server;
    const summary = server.run();
    for (const id of ['a', 'b', 'c']) session.client(started.url, id, constantTrainer(1));
    await summary;
    // v1 = 1, w += 1; v2 = 0.5·1 + 1 = 1.5, w += 1.5 (Hsu et al. 2019).
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 2.5, 5));
    expect(server.status().strategy).toBe('fedavgm');
  });

  it('samples a fraction of clients with at least minFit', async () => {
    const started = await session.server({ rounds: 1, minClients: 4, sampling: { fraction: 0.25, minFit: 2 } });
    const server = started.server;
    const summary = server.run();
    for (const id of ['a', 'b', 'c', 'd']) session.client(started.url, id, constantTrainer(1));
    const result = await summary;
    expect(result.rounds[0]).toMatchObject({ selected: 2, replied: 2 });
  });

  it('counts a client that disconnects mid-round as a failure and completes with the others', async () => {
    const started = await session.server({ rounds: 1, sampling: { fraction: 1, minFit: 2 } });
    const server = started.server;
    const summary = server.run();
    const hanging = constantTrainer(1);
    const quitter: { client?: FedkitClient } = {};
    hanging.train = () => {
      setTimeout(() => quitter.client?.stop(), 10);
      return new Promise(() => undefined);
    };
    session.client(started.url, 'a', constantTrainer(1));
    session.client(started.url, 'b', constantTrainer(3));
    quitter.client = startClient(started.url, 'quitter', hanging);
    const result = await summary;
    const round = result.rounds[0]!;
    expect(round.status).toBe('completed');
    expect(round.replied).toBe(2);
    expect(round.failed).toEqual([expect.objectContaining({ clientId: 'quitter', code: 'client-disconnected' })]);
    // The deadline is 10 s: finishing much sooner shows the round did not wait for it.
    expect(round.trainPhaseMs).toBeLessThan(5000);
  });

  it('retries a round that gets fewer than minFit replies, with the model unchanged', async () => {
    const started = await session.server({ rounds: 1, minClients: 2, sampling: { fraction: 1, minFit: 2 }, roundDeadlineMs: 300 });
    const server = started.server;
    const summary = server.run();
    let calls = 0;
    const flaky = constantTrainer(1);
    const original = flaky.train.bind(flaky);
    flaky.train = (g, c, ctx) => (++calls === 1 ? new Promise(() => undefined) : original(g, c, ctx));
    session.client(started.url, 'steady', constantTrainer(1));
    session.client(started.url, 'flaky', flaky);
    const failed = await nextEvent<RoundMetrics>((l) => server.on('round', l));
    expect(failed).toMatchObject({ round: 1, attempt: 1, status: 'failed', modelVersion: 0 });
    expect(failed.failed).toEqual([expect.objectContaining({ clientId: 'flaky', code: 'deadline-exceeded' })]);
    expect(failed.reason).toMatch(/fewer than minFit 2/);
    const result = await summary;
    expect(result.rounds.map((r) => [r.round, r.attempt, r.status])).toEqual([
      [1, 1, 'failed'],
      [1, 2, 'completed'],
    ]);
    expect(server.currentWeights()[0]).toBeCloseTo(0.1 + 1, 5);
  });

  it('runs federated evaluation weighted by examples, and central evaluation', async () => {
    const started = await session.server({
      rounds: 1,
      evaluate: { every: 1 },
      centralEvaluate: async () => ({ loss: 0.3, accuracy: 0.9, numExamples: 100 }),
    });
    const server = started.server;
    const summary = server.run();
    const evalTrainer = (accuracy: number, n: number) => {
      const t = constantTrainer(1, 10, n);
      t.evaluate = async () => ({ loss: 1 - accuracy, accuracy, numExamples: n });
      return t;
    };
    session.client(started.url, 'a', evalTrainer(0.5, 10));
    session.client(started.url, 'b', evalTrainer(1, 30));
    session.client(started.url, 'c', constantTrainer(1, 10, 0));
    const result = await summary;
    const round = result.rounds[0]!;
    expect(round.federatedEvaluation).toMatchObject({ numExamples: 40, numClients: 2 });
    expect(round.federatedEvaluation!.accuracy).toBeCloseTo(0.875, 6);
    expect(round.centralEvaluation).toEqual({ loss: 0.3, accuracy: 0.9, numExamples: 100 });
    expect(round.accuracy).toBe(0.9);
  });

  it('stops early at the target accuracy and tells clients training finished', async () => {
    const started = await session.server({ rounds: 10, targetAccuracy: 0.8, centralEvaluate: async (_w, round) => ({ loss: 1, accuracy: round * 0.3, numExamples: 1 }) });
    const server = started.server;
    const summary = server.run();
    const [first] = ['a', 'b', 'c'].map((id) => session.client(started.url, id, constantTrainer(0)));
    const finished = first!.finished;
    const result = await summary;
    expect(result.roundsCompleted).toBe(3);
    expect(await finished).toMatchObject({ reason: 'completed', round: 3 });
  });

  it('serves /api/status, /api/rounds and the model in tfjs format', async () => {
    const started = await session.server({ rounds: 1 });
    const server = started.server;
    const summary = server.run();
    for (const id of ['a', 'b', 'c']) session.client(started.url, id, constantTrainer(1));
    await summary;
    const status = (await (await fetch(`${started.url}/api/status`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ stage: 'finished', roundsCompleted: 1, modelVersion: 1, protocolVersion: 1 });
    expect((status.lastRound as RoundMetrics).round).toBe(1);
    const rounds = (await (await fetch(`${started.url}/api/rounds`)).json()) as { rounds: RoundMetrics[] };
    expect(rounds.rounds).toHaveLength(1);
    const modelJson = (await (await fetch(`${started.url}/api/model`)).json()) as { weightsManifest: { paths: string[] }[] };
    const weightsUrl = new URL(modelJson.weightsManifest[0]!.paths[0]!, `${started.url}/api/`);
    const bytes = new Uint8Array(await (await fetch(weightsUrl)).arrayBuffer());
    expect(bytes.byteLength).toBe(32);
    expect(new Float32Array(bytes.buffer)[0]).toBeCloseTo(1.1, 5);
  });
});
