/**
 * FedAvgM: known answers by hand and from Flower's fedavgm_test.py, the defaults being
 * FedAvg exactly, and how momentum changes the "identical updates" property after round 1.
 */
import { describe, expect, it } from 'vitest';
import { fedAvg } from '../src/fedavg.js';
import { fedAvgM } from '../src/fedavgm.js';
import { expectCloseTo, reply, runRound, runRounds } from './server-opt-harness.js';

describe('fedAvgM', () => {
  it('follows v ← β·v + Δ; w ← w + η·v over three rounds (known answer, by hand)', () => {
    // η = 0.5, β = 0.9, w0 = [1, −2].
    // Round 1: Δ = (1·[0.4, 0] + 3·[0, 0.8]) / 4 = [0.1, 0.6]; v1 = Δ = [0.1, 0.6];
    //          w1 = w0 + 0.5·v1 = [1.05, −1.7].
    // Round 2: Δ = [0.2, −0.2]; v2 = 0.9·[0.1, 0.6] + Δ = [0.29, 0.34]; w2 = w1 + 0.5·v2 = [1.195, −1.53].
    // Round 3: Δ = [0, 0]; v3 = 0.9·v2 = [0.261, 0.306]; w3 = w2 + 0.5·v3 = [1.3255, −1.377].
    const strategy = fedAvgM({ serverLearningRate: 0.5, momentum: 0.9 });
    const [w1, w2, w3] = runRounds(strategy, [1, -2], [
      [reply('a', 1, [0.4, 0]), reply('b', 3, [0, 0.8])],
      [reply('a', 7, [0.2, -0.2])],
      [reply('c', 2, [0, 0])],
    ]);
    expectCloseTo(w1!, [1.05, -1.7], 6);
    expectCloseTo(w2!, [1.195, -1.53], 6);
    expectCloseTo(w3!, [1.3255, -1.377], 6);
    expect(strategy.steps).toBe(3);
  });

  it("matches Flower's test_aggregate_fit_server_learning_rate_and_momentum (fedavgm_test.py)", () => {
    // Flower: initial weights 0; both rounds two clients (1 and 2 examples) return absolute
    // weights [[1,2,3],[4,5,6]] and [7,8,9,10]; server_learning_rate = 1 + 1e-9,
    // server_momentum = 1e-9; after round 2 the weights are those values (7 decimals).
    // Here updates are deltas, so round 2's clients send (their weights − w1).
    const target = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const strategy = fedAvgM({ serverLearningRate: 1 + 1e-9, momentum: 1e-9 });
    const w1 = runRound(strategy, 1, new Float32Array(10), [reply('0', 1, target), reply('1', 2, target)]);
    const delta = target.map((t, i) => t - w1[i]!);
    const w2 = runRound(strategy, 2, w1, [reply('0', 1, delta), reply('1', 2, delta)]);
    expectCloseTo(w2, target, 7);
  });

  it('is FedAvg, bit for bit, with the defaults (η = 1, β = 0)', () => {
    const rounds = [
      [reply('a', 3, [0.1, -0.3, 0.7]), reply('b', 5, [0.2, 0.2, -0.1])],
      [reply('a', 1, [1e-3, 5e-4, -2e-3])],
    ];
    const momentum = runRounds(fedAvgM(), [0.5, 1.5, -1], rounds);
    const plain = runRounds(fedAvg(), [0.5, 1.5, -1], rounds);
    expect(momentum).toEqual(plain);
  });

  it('moves by (1 + β)·η·Δ in round 2 when every round sends the same Δ (differs from FedAvg by design)', () => {
    // The conformance property "identical updates give that update" holds in round 1 only:
    // v1 = Δ, then v2 = β·Δ + Δ.
    const strategy = fedAvgM({ momentum: 0.5 });
    const [w1, w2] = runRounds(strategy, [0, 0], [[reply('a', 1, [0.25, -0.5])], [reply('a', 1, [0.25, -0.5])]]);
    expectCloseTo(w1!, [0.25, -0.5], 7);
    expectCloseTo(w2!, [0.25 + 1.5 * 0.25, -0.5 - 1.5 * 0.5], 7);
  });

  it('takes no step when a round returns null', () => {
    const strategy = fedAvgM({ momentum: 0.9, minReplies: 2 });
    const accumulator = strategy.beginTrain(1, new Float32Array(2), [{ name: 'w', shape: [2] }]);
    accumulator.add(reply('a', 1, [1, 1]));
    expect(strategy.aggregateTrain(1, accumulator, [])).toBeNull();
    expect(strategy.steps).toBe(0);
    expect(strategy.toJSON().size).toBeNull();
  });
});

describe('fedAvgM options', () => {
  it('rejects β outside [0, 1) and η ≤ 0 with a RangeError naming the option', () => {
    expect(() => fedAvgM({ momentum: 1 })).toThrow(RangeError);
    expect(() => fedAvgM({ momentum: 1 })).toThrow(/momentum must be a finite number in \[0, 1\), got 1/);
    expect(() => fedAvgM({ momentum: -0.1 })).toThrow(/momentum/);
    expect(() => fedAvgM({ serverLearningRate: 0 })).toThrow(/serverLearningRate must be a finite number > 0/);
    expect(() => fedAvgM({ serverLearningRate: Number.NaN })).toThrow(RangeError);
  });

  it('rejects wrong types and unknown options with a TypeError', () => {
    expect(() => fedAvgM({ momentum: '0.9' as unknown as number })).toThrow(TypeError);
    expect(() => fedAvgM({ beta: 0.9 } as unknown as object)).toThrow(/fedAvgM has no option "beta"/);
  });
});
