/**
 * Privacy in the simulation goes through the real server path: the server's DP modes and
 * accountant, its budget refusal and SecAgg+, with virtual clients running the production
 * DP mods and secure aggregation. ε per round lands in metrics.json / metrics.csv and the
 * result; invalid combinations fail before any training.
 */
import { access, readFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSimulationConfig, runSimulation } from '@fedkit/simulation';
import type { RoundMetrics } from '@fedkit/server';
import { run, sameBits, small } from './helpers.js';

describe('simulation privacy through the server', () => {
  it('central DP with adaptive clipping: the accountant charges every round, ε grows, reruns are bit-identical', async () => {
    const config = {
      ...small,
      privacy: { mode: 'central' as const, adaptiveClipping: { initialClipNorm: 0.5 }, noiseMultiplier: 0.3 },
    };
    const first = await run(config);
    const second = await run(config);
    expect(first.rounds).toBe(3);
    expect(sameBits(first.weights, second.weights)).toBe(true);
    const eps = first.history.map((r) => r.privacy!.epsilon);
    expect(eps[0]).toBeGreaterThan(0);
    expect(eps[1]).toBeGreaterThan(eps[0]!);
    expect(eps[2]).toBeGreaterThan(eps[1]!);
    expect(first.history.map((r) => r.privacy!.roundsCharged)).toEqual([1, 2, 3]);
    // The clip norm moves (adaptive clipping), and the sampling rate charged is m/K.
    expect(first.history[2]!.privacy!.lastRound!.clipNorm).not.toBe(0.5);
    expect(first.history[0]!.privacy!.lastRound!.samplingRate).toBeCloseTo(0.5, 12);
    expect(first.privacy).toEqual({ mode: 'central', epsilon: eps[2], delta: 1e-5, roundsCharged: 3, clipNorm: first.history[2]!.privacy!.lastRound!.clipNorm });

    const csv = (await readFile(join(first.runDir, 'metrics.csv'), 'utf8')).trim().split('\n').map((l) => l.split(','));
    const col = csv[0]!.indexOf('epsilon');
    expect(col).toBeGreaterThan(0);
    expect(csv.slice(1).map((row) => Number(row[col]))).toEqual(eps);
    expect(csv.slice(1).map((row) => Number(row[csv[0]!.indexOf('delta')]))).toEqual([1e-5, 1e-5, 1e-5]);
    const json = JSON.parse(await readFile(join(first.runDir, 'metrics.json'), 'utf8')) as { rounds: RoundMetrics[] };
    expect(json.rounds.map((r) => r.privacy!.epsilon)).toEqual(eps);
    const summary = JSON.parse(await readFile(join(first.runDir, 'summary.json'), 'utf8')) as { privacy: { epsilon: number } };
    expect(summary.privacy.epsilon).toBe(eps[2]);
  });

  it('stops before a round that would exceed the (ε, δ) budget', async () => {
    const result = await run({
      ...small,
      rounds: 10,
      privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1.5, budget: { epsilon: 3, delta: 1e-4 } },
    });
    // q = 0.5, z = 1.5, δ = 1e-4: ε = 1.89, 2.58, 3.11 after 1, 2, 3 rounds (`fedkit privacy epsilon`).
    expect(result.rounds).toBe(2);
    expect(result.reason).toMatch(/stopped before round 3: the next round would exceed the privacy budget ε = 3 at δ = 0\.0001/);
    expect(result.privacy!.epsilon!).toBeCloseTo(2.58275147, 6);
    expect(result.privacy!.delta).toBe(1e-4);
  });

  it('distributed DP under SecAgg+: clients add their share of the noise, the server sees only the sum and charges ε', async () => {
    const noDp = await run({ ...small, rounds: 2 });
    const result = await run({
      ...small,
      rounds: 2,
      privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 0.5 },
      secureAggregation: { enabled: true },
    });
    expect(result.rounds).toBe(2);
    for (const r of result.history) {
      expect(r.status).toBe('completed');
      expect(r.replied).toBe(10);
      expect(r.privacy).toMatchObject({ mode: 'distributed', roundsCharged: r.round });
    }
    expect(result.privacy!.epsilon!).toBeGreaterThan(0);
    expect(sameBits(result.weights, noDp.weights)).toBe(false);
    expect(result.finalAccuracy!).toBeGreaterThan(0.4);
  });

  it('local DP: each virtual client noises its own report; no accountant total is claimed', async () => {
    const noDp = await run({ ...small, rounds: 1 });
    const result = await run({ ...small, rounds: 1, privacy: { mode: 'local', clipNorm: 1, noiseMultiplier: 0.5 } });
    expect(result.rounds).toBe(1);
    expect(result.history[0]!.privacy!.mode).toBe('local');
    expect(result.privacy).toMatchObject({ mode: 'local', epsilon: null });
    expect(sameBits(result.weights, noDp.weights)).toBe(false);
    // The clients' mods reported the clipping bit, which the server averaged into train metrics.
    expect(result.history[0]!.train.dpUnclipped).toBeGreaterThanOrEqual(0);
  });

  it('SecAgg+ without DP gives the plain FedAvg model up to quantization', async () => {
    const plain = await run({ ...small, rounds: 1 });
    const masked = await run({ ...small, rounds: 1, secureAggregation: { enabled: true } });
    expect(masked.history[0]!.replied).toBe(10);
    let maxDiff = 0;
    for (let i = 0; i < plain.weights.length; i++) maxDiff = Math.max(maxDiff, Math.abs(plain.weights[i]! - masked.weights[i]!));
    expect(maxDiff).toBeGreaterThan(0);
    // Quantization step 2·8/2^22 ≈ 4e-6 per client value; the mean's error is within a few steps.
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('refuses a combination only the server can check (adaptive clipping under SecAgg) before writing anything', async () => {
    const runDir = join(await mkdtemp(join(tmpdir(), 'fedkit-sim-')), 'run');
    const config = await resolveSimulationConfig({
      ...small,
      privacy: { mode: 'central', adaptiveClipping: true, noiseMultiplier: 0.5 },
      secureAggregation: { enabled: true },
    });
    await expect(runSimulation(config, { runDir })).rejects.toMatchObject({ code: 'config-invalid', message: expect.stringMatching(/privacy\.adaptiveClipping/) });
    await expect(access(runDir)).rejects.toThrow(/ENOENT/);
  });
});
