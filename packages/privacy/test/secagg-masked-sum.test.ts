/**
 * Pre-summed masked inputs (masked-sum.ts, serverHandleMaskedSum): a round whose masked
 * vectors reach the server as a few partial sums, as a cluster's processes send them,
 * unmasks to the same mean as one fed reply by reply; a refused sum changes nothing.
 */
import { seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { wordsToBytes } from '../src/secagg/bytes.js';
import { addMaskedInput, emptyMaskedSum, maskedWords } from '../src/secagg/masked-sum.js';
import { DEFAULT_QUANTIZATION } from '../src/secagg/quantize.js';
import { createSecAggServer, serverHandleMaskedSum } from '../src/secagg/server-state.js';
import { codeOf, maxAbsDiff, plainWeightedMean, runRound } from './secagg-harness.js';

const params = { vectorLength: 3, modulusBits: 24 };

describe('addMaskedInput', () => {
  it('adds word by word mod 2^modulusBits', () => {
    const sum = emptyMaskedSum(params);
    addMaskedInput(sum, wordsToBytes(Uint32Array.of(2 ** 24 - 1, 5, 0, 7)), params, 'a');
    addMaskedInput(sum, wordsToBytes(Uint32Array.of(3, 2 ** 24 - 5, 1, 0)), params, 'b');
    expect([...sum]).toEqual([2, 0, 1, 7]);
  });

  it('wraps mod 2^32 with a 32-bit modulus', () => {
    const wide = { vectorLength: 1, modulusBits: 32 };
    const sum = emptyMaskedSum(wide);
    addMaskedInput(sum, wordsToBytes(Uint32Array.of(2 ** 32 - 1, 1)), wide, 'a');
    addMaskedInput(sum, wordsToBytes(Uint32Array.of(2, 2)), wide, 'b');
    expect([...sum]).toEqual([1, 3]);
  });

  it('refuses a wrong length or a word at or above the modulus, leaving the sum unchanged', () => {
    const sum = emptyMaskedSum(params);
    expect(codeOf(() => addMaskedInput(sum, new Uint8Array(12), params, 'short'))).toBe('update-size-mismatch');
    expect(codeOf(() => addMaskedInput(sum, wordsToBytes(Uint32Array.of(1, 2 ** 24, 0, 0)), params, 'big'))).toBe('secagg-value-out-of-range');
    expect([...sum]).toEqual([0, 0, 0, 0]);
    expect(() => maskedWords(wordsToBytes(Uint32Array.of(1, 2 ** 24, 0, 0)), params, 'the sum of p2')).toThrow(/the sum of p2: word 1/);
  });
});

describe('serverHandleMaskedSum in a round', () => {
  it('three partial sums unmask to the plain weighted mean, as the per-client round does', async () => {
    const groups = [[1, 4, 7, 10], [2, 5, 8], [3, 6, 9]];
    const summed = await runRound({ clients: 10, threshold: 4, neighbourCount: 6, seed: 11, maskedGroups: groups });
    const single = await runRound({ clients: 10, threshold: 4, neighbourCount: 6, seed: 11 });
    expect(summed.error).toBeUndefined();
    expect(summed.result!.contributors).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const { mean, tolerance } = plainWeightedMean(summed, DEFAULT_QUANTIZATION);
    expect(maxAbsDiff(summed.result!.weightedMean, mean)).toBeLessThan(tolerance);
    // Same seeds, same masks: the same words, so exactly the same mean.
    expect([...summed.result!.weightedMean]).toEqual([...single.result!.weightedMean]);
  });

  it('with drop-outs at every stage and a 2^24 modulus, partial sums still unmask', async () => {
    const quantization = { ...DEFAULT_QUANTIZATION, modulusBits: 24, quantizationRange: 2 ** 16 };
    const outcome = await runRound({
      clients: 16, threshold: 4, neighbourCount: 6, seed: 2, quantization,
      dropAt: { setup: [3], 'share-keys': [7], 'collect-masked': [11], unmask: [14] },
      maskedGroups: [[1, 2, 4, 5, 6, 8], [9, 10, 12, 13, 14, 15, 16]],
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.result!.dropped).toEqual([3, 7, 11]);
    expect(outcome.result!.contributors).toContain(14);
    const { mean, tolerance } = plainWeightedMean(outcome, quantization);
    expect(maxAbsDiff(outcome.result!.weightedMean, mean)).toBeLessThan(tolerance);
  });

  it('refuses, with a code and without changing the state, a sum that cannot be recorded', () => {
    const { state } = createSecAggServer({ round: 3, clientIds: [1, 2, 3, 4], threshold: 3, vectorLength: 2, modulusBits: 24, quantizationRange: 2 ** 16 }, seededRandomSource(1));
    const words = (n: number) => wordsToBytes(new Uint32Array(n));
    const sum = { round: 3, contributors: [1, 2], masked: words(3) };
    expect(codeOf(() => serverHandleMaskedSum(state, sum))).toBe('secagg-stage-invalid');
    state.stage = 'collect-masked';
    state.active = new Set([1, 2, 3]);
    state.maskedSum = new Uint32Array(3);
    expect(codeOf(() => serverHandleMaskedSum(state, { ...sum, round: 4 }))).toBe('round-closed');
    expect(codeOf(() => serverHandleMaskedSum(state, { ...sum, contributors: [] }))).toBe('invalid-message');
    expect(codeOf(() => serverHandleMaskedSum(state, { ...sum, contributors: [1, 4] }))).toBe('not-selected');
    expect(codeOf(() => serverHandleMaskedSum(state, { ...sum, contributors: [1, 1] }))).toBe('duplicate-update');
    expect(codeOf(() => serverHandleMaskedSum(state, { ...sum, masked: words(2) }))).toBe('update-size-mismatch');
    expect(codeOf(() => serverHandleMaskedSum(state, { ...sum, masked: wordsToBytes(Uint32Array.of(0, 0, 2 ** 30)) }))).toBe('secagg-value-out-of-range');
    expect(state.replied.size).toBe(0);
    expect([...state.maskedSum]).toEqual([0, 0, 0]);
    serverHandleMaskedSum(state, { ...sum, masked: wordsToBytes(Uint32Array.of(1, 2, 3)) });
    expect([...state.replied]).toEqual([1, 2]);
    expect(codeOf(() => serverHandleMaskedSum(state, { ...sum, contributors: [2, 3] }))).toBe('duplicate-update');
    expect([...state.maskedSum]).toEqual([1, 2, 3]);
  });
});
