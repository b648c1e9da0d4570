/**
 * FedMedian and FedTrimmedAvg: the conformance suite (unweighted: both ignore example
 * counts, as Flower's FedMedian and FedTrimmedAvg do) on both kernels, and known answers
 * computed by hand below. Conventions checked against Flower's `aggregate_median`
 * (`numpy.median`: the mean of the two middle values for an even count) and
 * `aggregate_trimmed_avg` / scipy `trim_mean` (cut ⌊β·n⌋ values off each tail), in
 * adap/flower src/py/flwr/server/strategy/aggregate.py.
 */
import { describe, expect, it } from 'vitest';
import { fedMedian } from '../../src/robust/fedmedian.js';
import { fedTrimmedAvg, trimmedPerSide } from '../../src/robust/fedtrimmedavg.js';
import { robustKernelModule } from '../../src/robust/row-store.js';
import { describeStrategy } from '../conformance.js';
import { expectCloseTo, flatLayout, reply, runRound } from '../server-opt-harness.js';

const unweighted = { weighted: false } as const;
describeStrategy('fedMedian()', () => fedMedian(), unweighted);
describeStrategy('fedMedian({ kernel: js })', () => fedMedian({ kernel: 'js' }), unweighted);
describeStrategy('fedTrimmedAvg()', () => fedTrimmedAvg(), unweighted);
describeStrategy('fedTrimmedAvg({ beta: 0.1, kernel: js })', () => fedTrimmedAvg({ beta: 0.1, kernel: 'js' }), unweighted);

// Four updates of three coordinates; per coordinate, sorted:
//   0: [-7, 1, 2, 3]     1: [-2, 4, 5, 100]     2: [-1, 0, 0, 1]
const FOUR = [
  reply('a', 1, [1, -2, 0]),
  reply('b', 10, [3, 5, 0]),
  reply('c', 100, [2, 100, -1]),
  reply('d', 1000, [-7, 4, 1]),
];
// With e = [0, 0, 0]:  0: [-7, 0, 1, 2, 3]   1: [-2, 0, 4, 5, 100]   2: [-1, 0, 0, 0, 1]
const FIVE = [...FOUR, reply('e', 5, [0, 0, 0])];
const GLOBAL = Float32Array.from([10, 10, 10]);

describe.each(['auto', 'js'] as const)('fedMedian, kernel %s', (kernel) => {
  it('takes the middle value of an odd count (known answer)', () => {
    // Medians [1, 4, 0], added to the global weights.
    expect(Array.from(runRound(fedMedian({ kernel }), 1, GLOBAL, FIVE))).toEqual([11, 14, 10]);
  });

  it('takes the mean of the two middle values of an even count, as numpy.median (known answer)', () => {
    // [(1 + 2) / 2, (4 + 5) / 2, (0 + 0) / 2] = [1.5, 4.5, 0]
    expect(Array.from(runRound(fedMedian({ kernel }), 1, GLOBAL, FOUR))).toEqual([11.5, 14.5, 10]);
  });

  it('does not overflow halving two huge middle values', () => {
    const big = 3e38;
    const weights = runRound(fedMedian({ kernel }), 1, new Float32Array(1), [reply('a', 1, [big]), reply('b', 1, [big])]);
    expect(weights[0]).toBeCloseTo(Math.fround(big), -32);
    expect(Number.isFinite(weights[0])).toBe(true);
  });

  it('reports metrics, example-weighted, with the number of clients and examples', () => {
    const strategy = fedMedian({ kernel });
    const accumulator = strategy.beginTrain(1, GLOBAL, flatLayout(3));
    accumulator.add(reply('a', 1, [0, 0, 0], { loss: 2 }));
    accumulator.add(reply('b', 3, [0, 0, 0], { loss: 1 }));
    expect(accumulator.totalWeight).toBe(4);
    expect(strategy.aggregateTrain(1, accumulator, [])?.metrics).toEqual({ loss: 1.25, numClients: 2, numExamples: 4 });
  });
});

describe.each(['auto', 'js'] as const)('fedTrimmedAvg, kernel %s', (kernel) => {
  it('drops ⌊β·n⌋ values off each tail and averages the rest (known answer)', () => {
    // n = 5, β = 0.2: k = 1. 0: mean(0, 1, 2) = 1; 1: mean(0, 4, 5) = 3; 2: mean(0, 0, 0) = 0.
    expectCloseTo(runRound(fedTrimmedAvg({ beta: 0.2, kernel }), 1, GLOBAL, FIVE), [11, 13, 10], 5);
  });

  it('is the plain mean with β small enough that ⌊β·n⌋ = 0, and the median when only the middle is left', () => {
    // β = 0.1, n = 5: k = 0, mean [-1/5, 107/5, 0]; β = 0.4: k = 2, the median [1, 4, 0].
    expectCloseTo(runRound(fedTrimmedAvg({ beta: 0.1, kernel }), 1, GLOBAL, FIVE), [10 - 1 / 5, 10 + 107 / 5, 10], 5);
    expectCloseTo(runRound(fedTrimmedAvg({ beta: 0.4, kernel }), 1, GLOBAL, FIVE), [11, 14, 10], 5);
  });

  it('reports how many values each tail lost', () => {
    const strategy = fedTrimmedAvg({ beta: 0.25, kernel });
    const accumulator = strategy.beginTrain(1, GLOBAL, flatLayout(3));
    for (const r of FOUR) accumulator.add(r);
    // n = 4, β = 0.25: k = 1, so coordinate 1 is mean(4, 5) = 4.5.
    const result = strategy.aggregateTrain(1, accumulator, []);
    expect(result?.metrics.trimmedPerSide).toBe(1);
    expect(result?.weights[1]).toBe(14.5);
  });
});

describe('fedMedian and fedTrimmedAvg options', () => {
  it('counts the trimmed values as scipy and Flower do: int(β · n)', () => {
    expect([trimmedPerSide(0.2, 5), trimmedPerSide(0.2, 4), trimmedPerSide(0.49, 100), trimmedPerSide(0, 7)]).toEqual([1, 0, 49, 0]);
  });

  it('returns null below minReplies', () => {
    const strategy = fedMedian({ minReplies: 3 });
    const accumulator = strategy.beginTrain(1, GLOBAL, flatLayout(3));
    accumulator.add(FOUR[0]!);
    accumulator.add(FOUR[1]!);
    expect(strategy.aggregateTrain(1, accumulator, [])).toBeNull();
  });

  it('rejects out-of-range and unknown options, naming them', () => {
    expect(() => fedTrimmedAvg({ beta: 0.5 })).toThrow(/beta must be a finite number in \[0, 0.5\), got 0.5/);
    expect(() => fedTrimmedAvg({ beta: -0.1 })).toThrow(RangeError);
    expect(() => fedTrimmedAvg({ beta: '0.1' as unknown as number })).toThrow(TypeError);
    expect(() => fedMedian({ minReplies: 0 })).toThrow(/minReplies/);
    expect(() => fedMedian({ kernel: 'gpu' as unknown as 'js' })).toThrow(/kernel/);
    expect(() => fedMedian({ beta: 0.1 } as unknown as object)).toThrow(/fedMedian has no option "beta"/);
  });

  it.runIf(robustKernelModule() !== null)('gives bit-identical weights with the wasm and JS kernels', () => {
    const size = 1003;
    const global = Float32Array.from({ length: size }, (_, i) => Math.sin(i));
    const replies = Array.from({ length: 9 }, (_, k) => reply(`c${k}`, k + 1, Array.from(global, (g, i) => Math.cos(g * (k + 1) + i) * 0.01)));
    for (const make of [(kernel: 'wasm-simd' | 'js') => fedMedian({ kernel }), (kernel: 'wasm-simd' | 'js') => fedTrimmedAvg({ kernel })]) {
      expect(runRound(make('wasm-simd'), 1, global, replies)).toEqual(runRound(make('js'), 1, global, replies));
    }
  });
});
