/**
 * Durable state over real sockets, in process: a server with a dataDir, closed after some
 * rounds and replaced by a new one on the same dir, carries on from the last completed round
 * with the same model bytes, the strategy's momentum, the accountant's charges (never
 * twice) and its client registry; a damaged, newer or foreign data dir is refused.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FederationServer, type FederationServerOptions } from '@fedkit/server';
import { RdpAccountant } from '@fedkit/privacy';
import { encodeFloat32, seededRandomSource } from '@fedkit/protocol';
import { constantTrainer, tinyModel, federationSession } from '../helpers/federation.js';

const session = federationSession();

async function start(options: Partial<FederationServerOptions>): Promise<{ server: FederationServer; url: string }> {
  const server = new FederationServer({ model: tinyModel, random: seededRandomSource(1), minClients: 3, evaluate: { every: 0 }, roundDeadlineMs: 10_000, ...options });
  session.track(server);
  const port = await server.listen(0);
  return { server, url: `http://127.0.0.1:${port}` };
}

function joinClients(url: string, value = 1): ReturnType<typeof constantTrainer>[] {
  return ['a', 'b', 'c'].map((id) => {
    const trainer = constantTrainer(value);
    session.client(url, id, trainer);
    return trainer;
  });
}


const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? 'uncoded';
  }
  return 'none';
};

describe('durable server state', () => {
  it('resumes after the last completed round with the same model bytes and the optimizer momentum', async () => {
    const dataDir = session.tempDir('fedkit-durable-');
    const strategy = { name: 'fedavgm' as const, serverLearningRate: 1, momentum: 0.5 };
    const first = await start({ dataDir, rounds: 2, strategy });
    const summary = first.server.run();
    joinClients(first.url);
    expect((await summary).roundsCompleted).toBe(2);
    const saved = encodeFloat32(first.server.currentWeights()).slice();
    await session.end();

    const second = await start({ dataDir, rounds: 3, strategy });
    expect(second.server.resumedFrom).toMatchObject({ round: 2, modelVersion: 2 });
    expect(encodeFloat32(second.server.currentWeights())).toEqual(saved);
    expect(second.server.status()).toMatchObject({ round: 2, roundsCompleted: 2, modelVersion: 2 });
    const summary2 = second.server.run();
    const trainers = joinClients(second.url);
    const result = await summary2;
    expect(result.roundsCompleted).toBe(3);
    expect(result.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    for (const t of trainers) expect(t.rounds).toEqual([3]);
    // v1 = 1, v2 = 1.5, v3 = 0.5·1.5 + 1 = 1.75: the restored velocity, not a fresh one (which gives 1).
    Array.from(second.server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 4.25, 5));
    // The client registry came back and was updated.
    const state = JSON.parse(readFileSync(join(dataDir, 'state', 'state-000003.json'), 'utf8')) as { clients: { clientId: string }[] };
    expect(state.clients.map((c) => c.clientId).sort()).toEqual(['a', 'b', 'c']);
  });

  it('never charges the privacy budget twice across a restart', async () => {
    const dataDir = session.tempDir('fedkit-durable-');
    const privacy = { mode: 'central' as const, clipNorm: 10, noiseMultiplier: 1.2, expectedClients: 3, budget: { epsilon: 100, delta: 1e-5 } };
    const first = await start({ dataDir, rounds: 2, privacy, allowSeededRandom: true });
    const summary = first.server.run();
    joinClients(first.url);
    await summary;
    const spent2 = first.server.status().privacy;
    expect(spent2.roundsCharged).toBe(2);
    await session.end();

    const second = await start({ dataDir, rounds: 3, privacy, allowSeededRandom: true });
    expect(second.server.status().privacy).toEqual(spent2);
    const summary2 = second.server.run();
    joinClients(second.url);
    await summary2;
    const expected = new RdpAccountant();
    for (let i = 0; i < 3; i++) expected.charge({ samplingRate: 1, noiseMultiplier: 1.2 });
    const spent3 = second.server.status().privacy;
    expect(spent3.roundsCharged).toBe(3);
    expect(spent3.epsilon).toBeCloseTo(expected.epsilon(1e-5).epsilon, 10);
  });

  it('finishes at once when the data dir already holds every planned round', async () => {
    const dataDir = session.tempDir('fedkit-durable-');
    const first = await start({ dataDir, rounds: 1 });
    const summary = first.server.run();
    joinClients(first.url);
    await summary;
    await session.end();
    const again = await start({ dataDir, rounds: 1 });
    const result = await again.server.run();
    expect(result).toMatchObject({ reason: 'completed', roundsCompleted: 1 });
    expect(result.message).toMatch(/already completed 1 rounds/);
  });

  it('refuses a corrupted, newer or foreign data dir with a coded error, never resetting it', async () => {
    const dataDir = session.tempDir('fedkit-durable-');
    const first = await start({ dataDir, rounds: 1, strategy: { name: 'fedadam' } });
    const summary = first.server.run();
    joinClients(first.url);
    await summary;
    await session.end();
    const stateDir = join(dataDir, 'state');
    const make = (extra: Partial<FederationServerOptions> = {}) => () =>
      new FederationServer({ model: tinyModel, dataDir, strategy: { name: 'fedadam' }, random: seededRandomSource(1), ...extra });

    expect(codeOf(make({ strategy: { name: 'fedyogi' } }))).toBe('state-mismatch');
    expect(codeOf(make({ model: { ...tinyModel, layout: [{ name: 'other', shape: [8] }] } }))).toBe('state-mismatch');
    expect(codeOf(make({ privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 }, allowSeededRandom: true }))).toBe('state-mismatch');

    const manifestPath = join(stateDir, 'manifest.json');
    const manifest = readFileSync(manifestPath, 'utf8');
    writeFileSync(manifestPath, manifest.replace('"formatVersion": 1', '"formatVersion": 9'));
    expect(codeOf(make())).toBe('state-version-unsupported');
    writeFileSync(manifestPath, manifest);

    const modelPath = join(stateDir, 'model-000001.bin');
    const model = readFileSync(modelPath);
    writeFileSync(modelPath, model.subarray(0, 10));
    expect(codeOf(make())).toBe('state-corrupt');
    expect(make()).toThrow(/truncated/);
    // Still refused on a second try: nothing was reset.
    expect(codeOf(make())).toBe('state-corrupt');
    writeFileSync(modelPath, model);
    expect(make()().resumedFrom?.round).toBe(1);
  });
});
