/**
 * Norm bounding (Sun et al. 2019) as a wrapper: the conformance suite around a weighted and
 * an unweighted strategy (with a bound no suite update reaches, since clipping is meant to
 * change large updates), a known answer, and the wrapper's own rules.
 */
import { describe, expect, it } from 'vitest';
import { fedAvg } from '../../src/fedavg.js';
import { fedAdam } from '../../src/fedopt.js';
import { isServerOptStrategy } from '../../src/registry.js';
import type { ServerOptStrategy } from '../../src/server-opt-strategy.js';
import { fedMedian } from '../../src/robust/fedmedian.js';
import { l2NormOf, withNormBound } from '../../src/robust/norm-bound.js';
import { describeStrategy } from '../conformance.js';
import { expectCloseTo, flatLayout, reply, runRound } from '../server-opt-harness.js';

// The suite's updates have norms below 1; its zero-example reply (norm ~40) is clipped, which
// changes nothing since FedAvg gives it no weight.
describeStrategy('withNormBound(fedAvg(), { maxNorm: 5 })', () => withNormBound(fedAvg(), { maxNorm: 5 }));
describeStrategy('withNormBound(fedMedian(), { maxNorm: 5 })', () => withNormBound(fedMedian(), { maxNorm: 5 }), { weighted: false });

describe('withNormBound', () => {
  it('scales updates above the bound to norm M and leaves the others (known answer)', () => {
    // [3, 4] has norm 5 → [0.6, 0.8] at M = 1; [0, 0.5] has norm 0.5 and stays.
    // FedAvg with weights 1 and 3: ([0.6, 0.8] + 3·[0, 0.5]) / 4 = [0.15, 0.575].
    const strategy = withNormBound(fedAvg(), { maxNorm: 1 });
    const accumulator = strategy.beginTrain(1, new Float32Array(2), flatLayout(2));
    const big = reply('a', 1, [3, 4]);
    accumulator.add(big);
    accumulator.add(reply('b', 3, [0, 0.5]));
    expect(accumulator.count).toBe(2);
    expect(accumulator.totalWeight).toBe(4);
    const result = strategy.aggregateTrain(1, accumulator, []);
    expectCloseTo(result!.weights, [0.15, 0.575], 6);
    expect(result!.metrics.normBoundClipped).toBe(1);
    expect(Array.from(big.update)).toEqual([3, 4]);
  });

  it('bounds how far f attackers can move FedAvg: at most f·(M + ‖honest‖)/n', () => {
    const honest = Array.from({ length: 8 }, (_, k) => reply(`h${k}`, 1, [0.1, -0.1]));
    const attackers = [reply('x1', 1, [1e6, 1e6]), reply('x2', 1, [-1e6, 3e5])];
    const weights = runRound(withNormBound(fedAvg(), { maxNorm: 0.2 }), 1, new Float32Array(2), [...honest, ...attackers]);
    const error = l2NormOf(Float32Array.from([weights[0]! - 0.1, weights[1]! + 0.1]));
    expect(error).toBeLessThanOrEqual((2 * (0.2 + Math.SQRT2 * 0.1)) / 10 + 1e-6);
  });

  it('measures the L2 norm over the unrolled body and the tail alike', () => {
    // 3² + 4² + 12² = 169 over five floats (one group of four, one tail float); 0² + … + 13² in the tail alone.
    expect(l2NormOf(Float32Array.from([3, 4, 0, 0, 12]))).toBe(13);
    expect(l2NormOf(Float32Array.from([0, 0, 0, 13]))).toBe(13);
    expect(l2NormOf(new Float32Array(0))).toBe(0);
    expect(l2NormOf(Float32Array.from([1, Number.NaN]))).toBeNaN();
  });

  it("keeps a server optimizer's state reachable through the wrapper", () => {
    const inner = fedAdam({ serverLearningRate: 0.1 });
    const strategy = withNormBound(inner, { maxNorm: 1 });
    expect(isServerOptStrategy(strategy)).toBe(true);
    expect(isServerOptStrategy(withNormBound(fedAvg(), { maxNorm: 1 }))).toBe(false);
    runRound(strategy, 1, new Float32Array(2), [reply('a', 1, [3, 4])]);
    const bounded = strategy as ServerOptStrategy;
    expect([bounded.rule, bounded.steps]).toEqual(['adam', 1]);
    expect(bounded.toJSON()).toEqual(inner.toJSON());
    const restored = withNormBound(fedAdam({ serverLearningRate: 0.1 }), { maxNorm: 1 }) as ServerOptStrategy;
    restored.fromJSON(bounded.toJSON());
    expect(restored.steps).toBe(1);
  });

  it('passes null through when the inner strategy fails the round', () => {
    const strategy = withNormBound(fedMedian({ minReplies: 2 }), { maxNorm: 1 });
    const accumulator = strategy.beginTrain(1, new Float32Array(1), flatLayout(1));
    accumulator.add(reply('a', 1, [5]));
    expect(strategy.aggregateTrain(1, accumulator, [])).toBeNull();
  });

  it('delegates configs and evaluation to the inner strategy', () => {
    const strategy = withNormBound(fedAvg(), { maxNorm: 1 });
    expect(strategy.configureTrain(1, { epochs: 1, batchSize: 10, learningRate: 0.1 })).toEqual({ epochs: 1, batchSize: 10, learningRate: 0.1 });
    expect(strategy.configureEvaluate(1, { batchSize: 5 })).toEqual({ batchSize: 5 });
    expect(strategy.aggregateEvaluate(1, [{ clientId: 'a', numExamples: 2, loss: 1, accuracy: 0.5 }], [])?.accuracy).toBe(0.5);
  });

  it('rejects non-finite and non-array updates, foreign accumulators and bad options', () => {
    const strategy = withNormBound(fedAvg(), { maxNorm: 1 });
    const accumulator = strategy.beginTrain(1, new Float32Array(1), flatLayout(1));
    expect(() => accumulator.add(reply('a', 1, [Number.POSITIVE_INFINITY]))).toThrow(expect.objectContaining({ code: 'update-not-finite' }));
    expect(() => accumulator.add({ ...reply('a', 1, [1]), update: [1] as unknown as Float32Array })).toThrow(TypeError);
    expect(accumulator.count).toBe(0);
    expect(() => strategy.aggregateTrain(1, fedAvg().beginTrain(1, new Float32Array(1), flatLayout(1)), [])).toThrow(/withNormBound\(\)\.beginTrain/);
    expect(() => withNormBound(fedAvg(), { maxNorm: -1 })).toThrow(RangeError);
    expect(() => withNormBound(fedAvg(), { maxNorm: Number.NaN })).toThrow(/maxNorm/);
    expect(() => withNormBound(fedAvg(), { maxNorm: 1, clipNorm: 1 } as object as { maxNorm: number })).toThrow(/no option "clipNorm"/);
    expect(() => withNormBound(null as never, { maxNorm: 1 })).toThrow(/needs a strategy/);
  });
});
