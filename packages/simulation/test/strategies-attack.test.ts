/**
 * Strategies by name reach the real server and, for FedProx, the virtual clients' local
 * training; Byzantine attackers change what the server aggregates.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FederationServer } from '@fedkit/server';
import { distance, run, sameBits, small } from './helpers.js';

const oneRound = { ...small, rounds: 1 };

describe('simulation strategies', () => {
  it('FedProx: μ reaches local training (μ = 0 is FedAvg bit for bit; μ > 0 pulls the update towards the global model)', async () => {
    let initial: Float32Array | undefined;
    const capture = { onServer: (server: FederationServer) => (initial = server.currentWeights().slice()) };
    const avg = await run({ ...oneRound, strategy: 'fedavg' }, capture);
    const prox0 = await run({ ...oneRound, strategy: { name: 'fedprox', proximalMu: 0 } });
    const prox = await run({ ...oneRound, strategy: { name: 'fedprox', proximalMu: 2 } });
    expect(sameBits(avg.weights, prox0.weights)).toBe(true);
    expect(sameBits(avg.weights, prox.weights)).toBe(false);
    expect(distance(prox.weights, initial!)).toBeLessThan(0.9 * distance(avg.weights, initial!));
  });

  it('a server optimizer by name with its parameters changes the aggregate (FedAdam vs FedAvg)', async () => {
    const avg = await run(oneRound);
    const adam = await run({ ...oneRound, strategy: { name: 'fedadam', serverLearningRate: 0.05, tau: 1e-3 } });
    expect(sameBits(avg.weights, adam.weights)).toBe(false);
    const config = JSON.parse(await readFile(join(adam.runDir, 'config.json'), 'utf8')) as { strategy: unknown };
    expect(config.strategy).toEqual({ name: 'fedadam', serverLearningRate: 0.05, tau: 1e-3 });
  });
});

describe('simulation attacks', () => {
  it('sign-flipping attackers change the model; the run is deterministic and records the attackers', async () => {
    const honest = await run(small);
    const attack = { ...small, attack: { fraction: 0.4, kind: 'sign-flip' as const, scale: 4 } };
    const first = await run(attack);
    const second = await run(attack);
    expect(sameBits(first.weights, honest.weights)).toBe(false);
    expect(sameBits(first.weights, second.weights)).toBe(true);
    // 40% of the clients sending −4·Δ push the mean update backwards: the model cannot learn.
    expect(first.finalAccuracy!).toBeLessThan(honest.finalAccuracy! - 0.2);
    const config = JSON.parse(await readFile(join(first.runDir, 'config.json'), 'utf8')) as { attack: { clients: number[] } };
    expect(config.attack.clients).toHaveLength(8);
  });

  it('gaussian-noise attackers replace their update with noise', async () => {
    const honest = await run(oneRound);
    const noisy = await run({ ...oneRound, attack: { fraction: 0.2, kind: 'gaussian-noise', scale: 5 } });
    expect(sameBits(noisy.weights, honest.weights)).toBe(false);
    expect(noisy.finalAccuracy!).toBeLessThan(honest.finalAccuracy!);
  });
});
