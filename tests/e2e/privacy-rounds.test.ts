/**
 * Differential privacy in real rounds: central DP clips and noises on the server and charges
 * the accountant; the budget stops training before it would be exceeded; local DP makes
 * clients clip (and noise) their own updates. Real server, real sockets.
 */
import { describe, expect, it } from 'vitest';
import { computeEpsilon } from '@fedkit/privacy';
import { seededRandomSource } from '@fedkit/protocol';
import { FederationServer, type FederationServerOptions } from '@fedkit/server';
import { constantTrainer, tinyModel, federationSession } from '../helpers/federation.js';

const session = federationSession();

const P = tinyModel.weights.length;

async function run(options: Partial<FederationServerOptions>, updates: number[]) {
  const started = await session.server({ allowSeededRandom: true, minClients: updates.length, ...options });
  const server = started.server;
  const summary = server.run();
  const clients = updates.map((u, i) => session.client(started.url, `c${i}`, constantTrainer(u)));
  return { result: await summary, url: started.url, server, clients };
}

describe('central DP', () => {
  it('clips each update to S and averages with the fixed denominator m', async () => {
    // Updates of norm 10·√8 and 0.1·√8: the first two are clipped to norm 1, the third is not.
    const { result, server } = await run({ rounds: 1, privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 0, expectedClients: 4 } }, [10, -10, 0.1]);
    expect(result.roundsCompleted).toBe(1);
    const perCoordinate = (1 / Math.sqrt(P) - 1 / Math.sqrt(P) + 0.1) / 4;
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + perCoordinate, 6));
    expect(result.rounds[0]!.train).toMatchObject({ dpClipNorm: 1, dpNoiseMultiplier: 0 });
  });

  it('charges the accountant every round, reports ε, and stops before exceeding the budget', async () => {
    const budget = { epsilon: 10, delta: 1e-5 };
    const { result, url, clients } = await run(
      { rounds: 100, privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1.5, expectedClients: 3, budget } },
      [1, 1, 1],
    );
    expect(result.reason).toBe('budget-exhausted');
    expect(result.message).toMatch(/would exceed the privacy budget ε = 10 at δ = 0.00001/);
    const rounds = result.roundsCompleted;
    expect(rounds).toBeGreaterThan(1);
    // q = m / N = 1: each round is a full Gaussian mechanism with z = 1.5.
    const spent = computeEpsilon({ samplingRate: 1, noiseMultiplier: 1.5, steps: rounds, delta: budget.delta });
    const next = computeEpsilon({ samplingRate: 1, noiseMultiplier: 1.5, steps: rounds + 1, delta: budget.delta });
    expect(spent.epsilon).toBeLessThanOrEqual(budget.epsilon);
    expect(next.epsilon).toBeGreaterThan(budget.epsilon);
    const last = result.rounds[result.rounds.length - 1]!;
    expect(last.privacy).toMatchObject({ mode: 'central', roundsCharged: rounds, delta: 1e-5, budget });
    expect(last.privacy!.epsilon).toBeCloseTo(spent.epsilon, 9);
    // ε grows round by round.
    const eps = result.rounds.map((r) => r.privacy!.epsilon);
    expect(eps.every((e, i) => i === 0 || e > eps[i - 1]!)).toBe(true);
    const status = (await (await fetch(`${url}/api/status`)).json()) as { privacy: { epsilon: number; roundsCharged: number } };
    expect(status.privacy).toMatchObject({ roundsCharged: rounds });
    await expect(clients[0]!.finished).resolves.toMatchObject({ reason: 'budget-exhausted' });
  });

  it('adapts the clip norm toward the target quantile', async () => {
    const { result } = await run(
      { rounds: 3, privacy: { mode: 'central', noiseMultiplier: 0.01, expectedClients: 3, adaptiveClipping: { clippedCountStddev: 0.01 } } },
      [1, 1, 1],
    );
    const clips = result.rounds.map((r) => r.train.dpClipNorm!);
    // All updates (norm √8) exceed the initial clip 0.1: the unclipped fraction is 0 (noised
    // with σ_b/m ≈ 0.003), so S ← S·exp(−0.2·(0 − 0.5)) = S·e^0.1 each round (Andrew et al.).
    expect(clips[0]).toBeCloseTo(0.1, 9);
    expect(clips[1]! / clips[0]!).toBeCloseTo(Math.exp(0.1), 2);
    expect(clips[2]! / clips[1]!).toBeCloseTo(Math.exp(0.1), 2);
  });
});

describe('local DP', () => {
  it('clients clip their own updates to the server-given S before sending', async () => {
    const { result, server } = await run({ rounds: 1, privacy: { mode: 'local', clipNorm: 2, noiseMultiplier: 0 } }, [10, 10, 10]);
    expect(result.roundsCompleted).toBe(1);
    const norm = Math.sqrt(Array.from(server.currentWeights(), (w, i) => (w - tinyModel.weights[i]!) ** 2).reduce((a, b) => a + b, 0));
    expect(norm).toBeCloseTo(2, 5);
  });

  it('clients add N(0, (z·S)²) noise: the update is no longer the clipped one', async () => {
    const { result, server } = await run({ rounds: 1, privacy: { mode: 'local', clipNorm: 1, noiseMultiplier: 5 } }, [0, 0, 0]);
    expect(result.roundsCompleted).toBe(1);
    const moved = Array.from(server.currentWeights(), (w, i) => w - tinyModel.weights[i]!);
    // Three clients' noise of stddev 5 averaged: stddev 5/√3 per coordinate; all eight near 0 has p ≈ 0.
    expect(moved.filter((d) => Math.abs(d) > 0.01).length).toBeGreaterThan(4);
  });
});

describe('privacy configuration', () => {
  it.each([
    [{ mode: 'distributed', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 }, 'field "privacy.'],
    [{ mode: 'central', clipNorm: 1, noiseMultiplier: 1 }, 'field "privacy.expectedClients"'],
    [{ mode: 'central', clipNorm: -1, noiseMultiplier: 1, expectedClients: 3 }, 'field "privacy.clipNorm"'],
    [{ mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3, budget: { epsilon: 1 } }, 'field "privacy.budget.delta"'],
    [{ mode: 'laplace' }, 'field "privacy.mode"'],
  ])('rejects %j at start, naming the field', (privacy, message) => {
    expect(() => new FederationServer({ model: tinyModel, privacy: privacy as never })).toThrow(message);
  });

  it('refuses a seeded random source for DP noise unless explicitly allowed', () => {
    const options = { model: tinyModel, random: seededRandomSource(1), privacy: { mode: 'central' as const, clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 } };
    expect(() => new FederationServer(options)).toThrow(/seeded/);
    expect(() => new FederationServer({ ...options, allowSeededRandom: true })).not.toThrow();
  });
});
