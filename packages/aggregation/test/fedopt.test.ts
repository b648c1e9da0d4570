/**
 * FedAdam, FedYogi and FedAdagrad: known answers over three rounds computed by hand from the
 * update rules of Reddi et al. 2021, Algorithm 2 (m_t = β1·m + (1 − β1)·Δ; Adam
 * v = β2·v + (1 − β2)·Δ²; Yogi v = v − (1 − β2)·Δ²·sign(v − Δ²); Adagrad v = v + Δ²;
 * w ← w + η·m/(√v + τ); m_{−1} = v_{−1} = 0), one known answer from Flower's
 * fedadagrad_test.py, the defaults, and the contract properties that hold with the
 * defaults (those that do not are listed in server-opt-conformance.test.ts).
 *
 * Every round below uses w0 = [0, 1], η = 0.1, τ = 0.01 and the same mean updates:
 * Δ1 = [0.5, −0.2] (one client, 2 examples), Δ2 = [0.5, 0.2] (two clients: 1·[0.2, 0.8] +
 * 3·[0.6, 0] over 4 examples), Δ3 = [0.01, 0.1]. Digits are rounded to 9 significant
 * figures; the tests compare to 6 decimal places (the weights are float32).
 */
import { seededRandomSource, shuffled } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { fedAdagrad, fedAdam, fedYogi } from '../src/fedopt.js';
import type { TrainReply } from '../src/strategy.js';
import { expectCloseTo, reply, runRound, runRounds } from './server-opt-harness.js';

const ROUNDS: readonly (readonly TrainReply[])[] = [
  [reply('a', 2, [0.5, -0.2])],
  [reply('a', 1, [0.2, 0.8]), reply('b', 3, [0.6, 0])],
  [reply('c', 5, [0.01, 0.1])],
];
const W0 = [0, 1];
const COMMON = { serverLearningRate: 0.1, tau: 0.01 };

describe('fedAdam', () => {
  it('follows Adam on the pseudo-gradient over three rounds (known answer, by hand)', () => {
    // β1 = 0.9, β2 = 0.99.
    // R1: m = 0.1·Δ1 = [0.05, −0.02]; v = 0.01·Δ1² = [0.0025, 0.0004]; √v = [0.05, 0.02];
    //     step = 0.1·m/(√v + 0.01) = [0.005/0.06, −0.002/0.03] = [0.0833333333, −0.0666666667].
    // R2: m = 0.9·m + 0.1·Δ2 = [0.095, 0.002]; v = 0.99·v + 0.01·[0.25, 0.04] = [0.004975, 0.000796];
    //     step = [0.0095/(√0.004975 + 0.01), 0.0002/(√0.000796 + 0.01)] = [0.117963069, 0.00523375631].
    // R3: m = [0.0855 + 0.001, 0.0018 + 0.01] = [0.0865, 0.0118];
    //     v = [0.00492525 + 0.000001, 0.00078804 + 0.0001] = [0.00492625, 0.00088804];
    //     step = [0.00865/(√0.00492625 + 0.01), 0.00118/(√0.00088804 + 0.01)] = [0.107872512, 0.0296482412].
    const [w1, w2, w3] = runRounds(fedAdam(COMMON), W0, ROUNDS);
    expectCloseTo(w1!, [0.0833333333, 0.933333333], 6);
    expectCloseTo(w2!, [0.201296402, 0.93856709], 6);
    expectCloseTo(w3!, [0.309168913, 0.968215331], 6);
  });

  it('scales η by √(1 − β2^t)/(1 − β1^t) with biasCorrection (known answer, by hand)', () => {
    // t = 1: 0.1·√0.01/0.1 = 0.1, so round 1 is as without correction.
    // t = 2: η2 = 0.1·√(1 − 0.9801)/(1 − 0.81) = 0.0742459788; m and v as in the test above.
    const [w1, w2] = runRounds(fedAdam({ ...COMMON, biasCorrection: true }), W0, ROUNDS.slice(0, 2));
    expectCloseTo(w1!, [0.0833333333, 0.933333333], 6);
    const eta2 = (0.1 * Math.sqrt(1 - 0.9801)) / (1 - 0.81);
    expect(eta2).toBeCloseTo(0.0742459788, 9);
    expectCloseTo(w2!, [0.0833333333 + (eta2 * 0.095) / (Math.sqrt(0.004975) + 0.01), 0.933333333 + (eta2 * 0.002) / (Math.sqrt(0.000796) + 0.01)], 6);
  });

  it('starts from v_{−1} = initialSecondMoment when given (the paper asks v_{−1} ≥ τ²)', () => {
    // v = 0.99·1e-4 + 0.01·0.25 = 0.002599 for coordinate 0; m = 0.05; step = 0.005/(√0.002599 + 0.01).
    const [w1] = runRounds(fedAdam({ ...COMMON, initialSecondMoment: 1e-4 }), W0, ROUNDS.slice(0, 1));
    expect(w1![0]).toBeCloseTo(0.005 / (Math.sqrt(0.002599) + 0.01), 6);
  });

  it('steps about η·sign(Δ) in round 1 with the defaults (η = 0.1, β1 = 0.9, β2 = 0.99, τ = 1e-9)', () => {
    // m = 0.1·Δ, √v = 0.1·|Δ|: the step is 0.1·0.1Δ/(0.1|Δ| + 1e-9) ≈ 0.1·sign(Δ).
    const [w1] = runRounds(fedAdam(), W0, ROUNDS.slice(0, 1));
    expectCloseTo(w1!, [0.1, 0.9], 6);
  });
});

describe('fedYogi', () => {
  it('follows Yogi on the pseudo-gradient over three rounds, both signs (known answer, by hand)', () => {
    // β1 = 0.9, β2 = 0.99; m as for FedAdam.
    // R1: v = 0 − 0.01·Δ1²·sign(0 − Δ1²) = [0.0025, 0.0004]: the same step as FedAdam.
    // R2: v − Δ2² < 0 in both coordinates, so v = v + 0.01·Δ2² = [0.005, 0.0008];
    //     step = [0.0095/(√0.005 + 0.01), 0.0002/(√0.0008 + 0.01)] = [0.117704376, 0.0052240775].
    // R3: Δ3² = [0.0001, 0.01]: coordinate 0 has v > Δ², so v = 0.005 − 0.000001 = 0.004999;
    //     coordinate 1 has v < Δ², so v = 0.0008 + 0.0001 = 0.0009; m = [0.0865, 0.0118];
    //     step = [0.00865/(√0.004999 + 0.01), 0.00118/(0.03 + 0.01)] = [0.107182323, 0.0295].
    const [w1, w2, w3] = runRounds(fedYogi(COMMON), W0, ROUNDS);
    expectCloseTo(w1!, [0.0833333333, 0.933333333], 6);
    expectCloseTo(w2!, [0.201037709, 0.938557411], 6);
    expectCloseTo(w3!, [0.308220032, 0.968057411], 6);
  });

  it("uses Flower's defaults (η = 0.01, τ = 1e-3): round 1 steps 0.01·Δ/(|Δ| + 0.01)", () => {
    // m = 0.1·Δ1, √v = 0.1·|Δ1|: step = 0.01·0.1Δ/(0.1|Δ| + 1e-3) = 0.01·Δ/(|Δ| + 0.01).
    const [w1] = runRounds(fedYogi(), W0, ROUNDS.slice(0, 1));
    expectCloseTo(w1!, [(0.01 * 0.5) / 0.51, 1 - (0.01 * 0.2) / 0.21], 7);
  });
});

describe('fedAdagrad', () => {
  it('follows Adagrad on the pseudo-gradient over three rounds (known answer, by hand)', () => {
    // β1 = 0 (Flower's FedAdagrad), so m = Δ.
    // R1: v = [0.25, 0.04]; step = [0.05/0.51, −0.02/0.21] = [0.0980392157, −0.0952380952].
    // R2: v = [0.5, 0.08]; step = [0.05/(√0.5 + 0.01), 0.02/(√0.08 + 0.01)] = [0.069724623, 0.0682960482].
    // R3: v = [0.5001, 0.09]; step = [0.001/(√0.5001 + 0.01), 0.01/0.31] = [0.00139435498, 0.0322580645].
    const [w1, w2, w3] = runRounds(fedAdagrad(COMMON), W0, ROUNDS);
    expectCloseTo(w1!, [0.0980392157, 0.904761905], 6);
    expectCloseTo(w2!, [0.167763839, 0.973057953], 6);
    expectCloseTo(w3!, [0.169158194, 1.00531602], 6);
  });

  it("matches Flower's fedadagrad_test.py test_aggregate_fit", () => {
    // Flower: previous weights 0.1 (×4); clients return 0.2 and 1.0, 5 examples each;
    // eta = 0.1, tau = 0.5; expected 0.15. By hand: Δ = 0.5, v = 0.25, 0.1 + 0.1·0.5/(0.5 + 0.5).
    const global = Float32Array.from([0.1, 0.1, 0.1, 0.1]);
    const update = (to: number): number[] => Array.from(global, (g) => to - g);
    const weights = runRound(fedAdagrad({ serverLearningRate: 0.1, tau: 0.5 }), 1, global, [reply('0', 5, update(0.2)), reply('1', 5, update(1.0))]);
    expectCloseTo(weights, [0.15, 0.15, 0.15, 0.15], 7);
  });
});

describe.each([
  ['fedAdam', fedAdam],
  ['fedYogi', fedYogi],
  ['fedAdagrad', fedAdagrad],
] as const)('%s with its defaults: the contract properties that hold', (_name, make) => {
  const global = Float32Array.from({ length: 9 }, (_, i) => Math.sin(i));
  const random = seededRandomSource(3);
  const replies = Array.from({ length: 6 }, (_, k) => reply(`c${k}`, 3 + 5 * k, Array.from({ length: 9 }, () => (random.nextFloat() - 0.5) * 0.2)));

  it('leaves the model unchanged when every update is zero', () => {
    expect(runRound(make(), 1, global, [reply('a', 3, new Array<number>(9).fill(0))])).toEqual(global);
  });

  it('does not depend on reply order', () => {
    const first = runRounds(make(), Array.from(global), [replies, replies]);
    const second = runRounds(make(), Array.from(global), [shuffled(seededRandomSource(4), replies), shuffled(seededRandomSource(5), replies)]);
    expectCloseTo(second[1]!, Array.from(first[1]!), 5);
  });

  it('counts one reply with 3n examples as three with n', () => {
    const [a, b] = replies;
    const heavy = runRound(make(), 1, global, [{ ...a!, numExamples: 5 }, { ...b!, numExamples: 15 }]);
    const repeated = runRound(make(), 1, global, [{ ...a!, numExamples: 5 }, { ...b!, numExamples: 5 }, { ...b!, numExamples: 5 }, { ...b!, numExamples: 5 }]);
    expectCloseTo(repeated, Array.from(heavy), 5);
  });
});

describe('fedOpt options', () => {
  it.each([
    [() => fedAdam({ beta1: 1 }), /beta1 must be a finite number in \[0, 1\), got 1/],
    [() => fedAdam({ beta2: -0.5 }), /beta2/],
    [() => fedYogi({ beta2: 1 }), /beta2/],
    [() => fedAdagrad({ tau: 0 }), /tau must be a finite number > 0, got 0/],
    [() => fedYogi({ tau: -1e-3 }), /tau/],
    [() => fedAdam({ serverLearningRate: 0 }), /serverLearningRate/],
    [() => fedAdam({ serverLearningRate: Number.POSITIVE_INFINITY }), /serverLearningRate/],
    [() => fedAdam({ initialSecondMoment: -1 }), /initialSecondMoment must be a finite number ≥ 0/],
  ])('rejects an out-of-range value with a RangeError naming it (%#)', (make, message) => {
    expect(make).toThrow(RangeError);
    expect(make).toThrow(message);
  });

  it('rejects wrong types and options a strategy does not have with a TypeError', () => {
    expect(() => fedAdam({ beta1: '0.9' as unknown as number })).toThrow(TypeError);
    expect(() => fedAdam({ biasCorrection: 1 as unknown as boolean })).toThrow(/biasCorrection must be a boolean/);
    expect(() => fedAdagrad({ beta2: 0.9 } as unknown as object)).toThrow(/fedAdagrad has no option "beta2"/);
    expect(() => fedYogi({ biasCorrection: true } as unknown as object)).toThrow(/fedYogi has no option "biasCorrection"/);
  });
});
