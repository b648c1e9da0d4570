import { describe, expect, it } from 'vitest';
import { DEFAULT_QUANTIZATION } from '../src/secagg/quantize.js';
import { maxAbsDiff, plainWeightedMean, runRound, type Outcome } from './secagg-harness.js';

function expectCorrectSum(outcome: Outcome, quantization = DEFAULT_QUANTIZATION): void {
  expect(outcome.error).toBeUndefined();
  expect(outcome.server.stage).toBe('done');
  const { mean, tolerance } = plainWeightedMean(outcome, quantization);
  expect(maxAbsDiff(outcome.result!.weightedMean, mean)).toBeLessThan(tolerance);
}

describe('secure aggregation rounds in memory', () => {
  it('SecAgg (full graph), 10 clients, no drop-outs: the unmasked mean is the plain weighted mean', async () => {
    const outcome = await runRound({ clients: 10, threshold: 6 });
    expectCorrectSum(outcome);
    expect(outcome.result!.contributors).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(outcome.result!.dropped).toEqual([]);
    expect(outcome.server.graph.degree).toBe(9);
  });

  it('SecAgg+, 16 clients with k = 6: one drop-out at every stage', async () => {
    const outcome = await runRound({
      clients: 16, threshold: 4, neighbourCount: 6, seed: 2,
      dropAt: { setup: [3], 'share-keys': [7], 'collect-masked': [11], unmask: [14] },
    });
    expectCorrectSum(outcome);
    // 14 vanished after masking: its input counts, its self mask was rebuilt from shares.
    expect(outcome.result!.dropped).toEqual([3, 7, 11]);
    expect(outcome.result!.contributors).toHaveLength(13);
    expect(outcome.server.dropped).toContain(11);
    expect(outcome.clientErrors.size).toBe(0);
  });

  it('SecAgg+, 20 clients with k = 8: several vanish after sharing keys and after masking', async () => {
    const outcome = await runRound({
      clients: 20, threshold: 5, neighbourCount: 8, seed: 3,
      dropAt: { 'collect-masked': [2, 9], unmask: [5, 17, 20] },
    });
    expectCorrectSum(outcome);
    expect(outcome.result!.dropped).toEqual([2, 9]);
    expect(outcome.result!.contributors).toContain(17);
  });

  it('SecAgg (full graph), 12 clients, drop-outs at every stage down to the threshold', async () => {
    const outcome = await runRound({
      clients: 12, threshold: 7, seed: 4, vectorLength: 300,
      dropAt: { setup: [1], 'share-keys': [12], 'collect-masked': [6, 8], unmask: [2] },
    });
    expectCorrectSum(outcome);
    expect(outcome.result!.contributors).toHaveLength(8);
  });

  it('works with a smaller modulus (2^24) and quantization range (2^16)', async () => {
    const quantization = { ...DEFAULT_QUANTIZATION, modulusBits: 24, quantizationRange: 2 ** 16 };
    const outcome = await runRound({ clients: 10, threshold: 4, neighbourCount: 4, seed: 5, quantization, dropAt: { 'collect-masked': [4] } });
    expectCorrectSum(outcome, quantization);
    const limit = 2 ** 24;
    for (const reply of outcome.transcript) {
      if (reply.kind === 'secagg-masked') {
        const words = new Uint32Array(reply.masked.buffer, reply.masked.byteOffset, reply.masked.length / 4);
        expect(words.every((w) => w < limit)).toBe(true);
      }
    }
  });

  it('leaves out a client whose neighbourhood fell below the threshold before any share moved', async () => {
    // k = 4 gives each client 5 holders (itself and 4 neighbours) with t = 3. Three of
    // client 1's neighbours vanish at setup: it has 2 holders left and cannot take part,
    // but the round goes on without it. (A client that shared two of those neighbours with
    // client 1 falls below the threshold too: the pruning repeats until it is stable.)
    const probe = await runRound({ clients: 20, threshold: 3, neighbourCount: 4, seed: 6, vectorLength: 10 });
    const victims = probe.server.graph.neighbours.get(1)!.slice(0, 3);
    const outcome = await runRound({ clients: 20, threshold: 3, neighbourCount: 4, seed: 6, dropAt: { setup: victims } });
    expectCorrectSum(outcome);
    const dropped = outcome.result!.dropped;
    expect(dropped).toEqual(expect.arrayContaining([1, ...victims]));
    expect(dropped.length).toBeLessThanOrEqual(6);
    for (const id of outcome.result!.contributors) expect(outcome.server.holders.get(id)!.length).toBeGreaterThanOrEqual(3);
  });

  it('aborts cleanly when fewer than t clients send masked input: no result, stage aborted', async () => {
    const outcome = await runRound({ clients: 10, threshold: 6, seed: 7, dropAt: { 'collect-masked': [1, 2, 3, 4, 5] } });
    expect(outcome.error?.code).toBe('secagg-too-few-clients');
    expect(outcome.result).toBeUndefined();
    expect(outcome.server.stage).toBe('aborted');
    expect(outcome.server.maskedSum).toBeUndefined();
    expect(outcome.server.abortReason).toMatch(/5 clients sent masked input, threshold is 6/);
  });

  it('aborts cleanly when too few clients advertise keys, and when too few answer unmask', async () => {
    const early = await runRound({ clients: 10, threshold: 6, seed: 8, dropAt: { setup: [1, 2, 3, 4, 5] } });
    expect(early.error?.code).toBe('secagg-too-few-clients');
    expect(early.server.stage).toBe('aborted');
    const late = await runRound({ clients: 10, threshold: 6, seed: 9, vectorLength: 50, dropAt: { unmask: [1, 2, 3, 4, 5] } });
    expect(late.error?.code).toBe('secagg-too-few-clients');
    expect(late.server.stage).toBe('aborted');
    expect(late.result).toBeUndefined();
  });
});
