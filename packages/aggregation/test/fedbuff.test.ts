/**
 * FedBuff: staleness weights (FedAsync's functions, by hand), versions published every K
 * updates with the staleness-weighted mean (known answers by hand), refusal of updates
 * that are too old or from the future, composition with FedAdam and with a DP wrapper,
 * no mutation, and option validation.
 */
import { FedkitError } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { withCentralDp } from '../../privacy/src/dp/fixed-clipping.js';
import { fedAvg } from '../src/fedavg.js';
import { fedBuff, type AsyncUpdate, type FedBuffOptions } from '../src/fedbuff/fedbuff.js';
import { stalenessFunction } from '../src/fedbuff/staleness.js';
import { fedAdam } from '../src/fedopt.js';
import { expectCloseTo, flatLayout } from './server-opt-harness.js';

function update(clientId: string, baseVersion: number, numExamples: number, values: number[]): AsyncUpdate {
  return { clientId, baseVersion, numExamples, update: Float32Array.from(values), metrics: { loss: 1 } };
}

function start(values: number[]): { weights: Float32Array; layout: ReturnType<typeof flatLayout> } {
  return { weights: Float32Array.from(values), layout: flatLayout(values.length) };
}

describe('staleness weights', () => {
  it('computes constant, polynomial and hinge weights (by hand)', () => {
    expect(stalenessFunction({ kind: 'constant' })(7)).toBe(1);
    const sqrt = stalenessFunction({ kind: 'polynomial', exponent: 0.5 });
    expect(sqrt(0)).toBe(1);
    expect(sqrt(3)).toBeCloseTo(0.5, 15); // (1 + 3)^−0.5
    const hinge = stalenessFunction({ kind: 'hinge', a: 0.5, b: 2 });
    expect(hinge(2)).toBe(1);
    expect(hinge(4)).toBeCloseTo(0.5, 15); // 1/(0.5·(4 − 2) + 1)
  });

  it('names the field of a bad weighting', () => {
    expect(() => stalenessFunction({ kind: 'exponential' })).toThrow(/staleness.kind must be 'constant', 'polynomial' or 'hinge'/);
    expect(() => stalenessFunction({ kind: 'polynomial', exponent: -1 })).toThrow(RangeError);
    expect(() => stalenessFunction({ kind: 'hinge', a: 0, b: 1 })).toThrow(/staleness.a must be a finite number > 0/);
    expect(() => stalenessFunction(null)).toThrow(TypeError);
  });
});

describe('fedBuff', () => {
  it('publishes global + Σ s(τ)·n·Δ / Σ n every K updates (known answer, by hand)', () => {
    // K = 2, s(τ) = 1/√(1 + τ), FedAvg inside, w0 = [1, 1].
    // v1: a (base 0, τ 0, n 1, Δ [1, 0]) and b (base 0, τ 0, n 3, Δ [0, 2]) → w1 = [1.25, 2.5].
    // v2: c (base 0, τ 1, s = 1/√2, n 2, Δ [2, 2]) and d (base 1, τ 0, n 2, Δ [−1, 0])
    //     → w2 = w1 + (2·√2·[1, 1] + 2·[−1, 0])/4 = [1.25 + (2√2 − 2)/4, 2.5 + 2√2/4].
    const buffer = fedBuff(fedAvg(), start([1, 1]), { bufferSize: 2 });
    expect(buffer.offer(update('a', 0, 1, [1, 0]))).toEqual({ kind: 'buffered', staleness: 0, weight: 1, buffered: 1 });
    const first = buffer.offer(update('b', 0, 3, [0, 2]));
    expect(first.kind).toBe('published');
    if (first.kind !== 'published') return;
    expect(first.published.version).toBe(1);
    expectCloseTo(first.published.weights, [1.25, 2.5], 6);
    expect(first.published.metrics).toMatchObject({ stalenessMean: 0, stalenessMax: 0, numClients: 2 });

    const late = buffer.offer(update('c', 0, 2, [2, 2]));
    expect(late).toMatchObject({ kind: 'buffered', staleness: 1 });
    expect((late as { weight: number }).weight).toBeCloseTo(Math.SQRT1_2, 7);
    const second = buffer.offer(update('d', 1, 2, [-1, 0]));
    if (second.kind !== 'published') throw new Error(`expected a publish, got ${second.kind}`);
    expect(second.published.version).toBe(2);
    expectCloseTo(second.published.weights, [1.25 + (2 * Math.SQRT2 - 2) / 4, 2.5 + (2 * Math.SQRT2) / 4], 6);
    expect(second.published.metrics).toMatchObject({ stalenessMean: 0.5, stalenessMax: 1 });
    expect(buffer.version).toBe(2);
    expect(buffer.weights()).toEqual(second.published.weights);
  });

  it('refuses an update older than maxStaleness with update-stale, folding nothing', () => {
    const buffer = fedBuff(fedAvg(), start([0]), { bufferSize: 1, maxStaleness: 1 });
    buffer.offer(update('a', 0, 1, [1])); // v1
    buffer.offer(update('b', 1, 1, [1])); // v2
    const stale = (): unknown => buffer.offer(update('c', 0, 1, [100]));
    expect(stale).toThrow(FedkitError);
    expect(stale).toThrow(expect.objectContaining({ code: 'update-stale', details: { staleness: 2, maxStaleness: 1 } }));
    expect(stale).toThrow('update from client "c" was trained on version 0, 2 versions old; at most 1 are accepted');
    expect(buffer.version).toBe(2);
    expect(buffer.buffered).toBe(0);
    expect(Array.from(buffer.weights())).toEqual([2]);
  });

  it('refuses an update claiming a version not yet published', () => {
    const buffer = fedBuff(fedAvg(), start([0]), { bufferSize: 2 });
    expect(() => buffer.offer(update('a', 1, 1, [1]))).toThrow(expect.objectContaining({ code: 'invalid-message' }));
    expect(() => buffer.offer(update('a', -1, 1, [1]))).toThrow(FedkitError);
  });

  it('leaves the buffer unchanged when the inner strategy rejects an update', () => {
    const buffer = fedBuff(fedAvg(), start([0, 0]), { bufferSize: 2 });
    expect(() => buffer.offer(update('a', 0, 1, [1, 2, 3]))).toThrow(expect.objectContaining({ code: 'update-size-mismatch' }));
    expect(buffer.buffered).toBe(0);
    buffer.offer(update('b', 0, 1, [1, 1]));
    expect(buffer.buffered).toBe(1);
  });

  it('does not mutate updates or the start weights', () => {
    const weights = Float32Array.from([1, 2]);
    const buffer = fedBuff(fedAvg(), { weights, layout: flatLayout(2) }, { bufferSize: 1 });
    buffer.offer(update('a', 0, 1, [1, 1]));
    const stale = update('b', 0, 1, [4, 4]);
    buffer.offer(stale);
    expect(Array.from(stale.update)).toEqual([4, 4]);
    expect(Array.from(weights)).toEqual([1, 2]);
  });

  it('steps a FedAdam inner strategy once per published version', () => {
    // K = 1, constant weights: each version is one FedAdam round (η = 0.1, τ = 0.01; see
    // fedopt.test.ts: Δ = [0.5, −0.2] from [0, 1] gives [0.0833333, 0.9333333]).
    const inner = fedAdam({ serverLearningRate: 0.1, tau: 0.01 });
    const buffer = fedBuff(inner, start([0, 1]), { bufferSize: 1, staleness: { kind: 'constant' } });
    const outcome = buffer.offer(update('a', 0, 2, [0.5, -0.2]));
    if (outcome.kind !== 'published') throw new Error('expected a publish');
    expectCloseTo(outcome.published.weights, [0.0833333333, 0.933333333], 6);
    buffer.offer(update('b', 0, 1, [0.1, 0.1]));
    expect(inner.steps).toBe(2);
  });

  it('noises each published version once inside a DP wrapper (expectedClients = K)', () => {
    // z = 0 and a clip no update reaches: the wrapper's mean is Σ s(τ)·Δ / K, equal weights.
    const inner = withCentralDp(fedAvg(), { clipNorm: 1e3, noiseMultiplier: 0, expectedClients: 2 });
    const buffer = fedBuff(inner, start([0]), { bufferSize: 2, staleness: { kind: 'constant' } });
    buffer.offer(update('a', 0, 1, [1]));
    const outcome = buffer.offer(update('b', 0, 100, [3]));
    if (outcome.kind !== 'published') throw new Error('expected a publish');
    expect(Array.from(outcome.published.weights)).toEqual([2]);
    expect(inner.lastRound?.round).toBe(1);
  });

  it('drops the buffer when the inner strategy returns null', () => {
    const buffer = fedBuff(fedAvg(), start([5]), { bufferSize: 1 });
    expect(buffer.offer(update('a', 0, 0, [1]))).toEqual({ kind: 'dropped', staleness: 0, weight: 1 });
    expect(buffer.version).toBe(0);
  });

  it('starts from a stored version and passes the next version as the round to configureTrain', () => {
    const buffer = fedBuff(fedAvg(), { ...start([0]), version: 41 }, { bufferSize: 3 });
    const base = { epochs: 1, batchSize: 10, learningRate: 0.1 };
    expect(buffer.configureTrain(base)).toEqual({ version: 41, config: base });
    expect(buffer.offer(update('a', 40, 1, [1]))).toMatchObject({ kind: 'buffered', staleness: 1 });
  });

  it.each([
    [{ bufferSize: 0 }, /bufferSize must be an integer in \[1,/],
    [{ bufferSize: 2.5 }, /bufferSize/],
    [{}, /bufferSize must be a number, got undefined/],
    [{ bufferSize: 2, maxStaleness: -1 }, /maxStaleness/],
    [{ bufferSize: 2, staleness: { kind: 'polynomial', exponent: Number.NaN } }, /staleness.exponent/],
    [{ bufferSize: 2, buffer: 3 }, /fedBuff has no option "buffer"/],
  ])('rejects bad options %o at construction, naming the field', (options, message) => {
    expect(() => fedBuff(fedAvg(), start([0]), options as unknown as FedBuffOptions)).toThrow(message);
  });
});
