/**
 * Persisting server-optimizer state: a strategy restored from `toJSON()` (through a JSON
 * string, as a store would keep it) continues exactly as the original; foreign, corrupt or
 * mismatched states are refused with `config-invalid`; the pure step functions mutate
 * nothing; a round's accumulator belongs to the strategy that began it.
 */
import { FedkitError } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { fedAvgM } from '../src/fedavgm.js';
import { fedAdagrad, fedAdam, fedYogi } from '../src/fedopt.js';
import type { ServerOptStrategy } from '../src/server-opt-strategy.js';
import { adaptiveOptimizer } from '../src/server-optimizers/adaptive.js';
import { momentumOptimizer } from '../src/server-optimizers/momentum.js';
import { decodeFloat64, encodeFloat64 } from '../src/server-optimizers/state-codec.js';
import { flatLayout, reply, runRound } from './server-opt-harness.js';

const ROUNDS = [
  [reply('a', 2, [0.5, -0.2, 1e-7]), reply('b', 1, [0.1, 0.3, -2e-7])],
  [reply('a', 4, [-0.3, 0.25, 0])],
  [reply('a', 1, [0.01, 0.1, 3e-3]), reply('c', 6, [0.02, -0.05, 1e-3])],
];

describe.each([
  ['fedAvgM', () => fedAvgM({ momentum: 0.9, serverLearningRate: 0.7 })],
  ['fedAdam', () => fedAdam({ biasCorrection: true, tau: 1e-3 })],
  ['fedYogi', () => fedYogi()],
  ['fedAdagrad', () => fedAdagrad({ beta1: 0.5 })],
] as const)('%s state', (name, make: () => ServerOptStrategy) => {
  it('restores from JSON and continues exactly as the original', () => {
    const original = make();
    let global: Float32Array = Float32Array.from([0.3, -1, 2]);
    global = runRound(original, 1, global, ROUNDS[0]!);
    global = runRound(original, 2, global, ROUNDS[1]!);
    const saved = JSON.parse(JSON.stringify(original.toJSON())) as unknown;
    const restored = make();
    restored.fromJSON(saved);
    expect(restored.steps).toBe(2);
    expect(restored.toJSON()).toEqual(original.toJSON());
    expect(runRound(restored, 3, global, ROUNDS[2]!)).toEqual(runRound(original, 3, global, ROUNDS[2]!));
  });

  it('says before the first round that there is nothing to restore', () => {
    const state = make().toJSON();
    expect(state).toMatchObject({ kind: 'server-opt-strategy', version: 1, steps: 0, lastRound: null, size: null, moments: {} });
    const restored = make();
    restored.fromJSON(state);
    expect(restored.steps).toBe(0);
  });

  it(`refuses another strategy's, a corrupt or a mismatched state with config-invalid (${name})`, () => {
    const original = make();
    runRound(original, 1, Float32Array.from([0.3, -1, 2]), ROUNDS[0]!);
    const state = original.toJSON();
    const firstMoment = Object.keys(state.moments)[0]!;
    const bad: unknown[] = [
      null,
      { ...state, kind: 'dp-strategy' },
      { ...state, version: 2 },
      { ...state, name: 'fedother' },
      { ...state, rule: 'sgd' },
      { ...state, steps: -1 },
      { ...state, lastRound: 1.5 },
      { ...state, size: 4 },
      { ...state, moments: { ...state.moments, [firstMoment]: '***' } },
      { ...state, moments: { ...state.moments, [firstMoment]: encodeFloat64(Float64Array.from([1, Number.NaN, 2])) } },
      { ...state, moments: {} },
    ];
    for (const s of bad) {
      const target = make();
      expect(() => target.fromJSON(s), JSON.stringify(s)?.slice(0, 80)).toThrow(FedkitError);
      expect(() => target.fromJSON(s)).toThrow(expect.objectContaining({ code: 'config-invalid' }));
      expect(target.steps).toBe(0);
    }
  });

  it('refuses a model whose size differs from its moments', () => {
    const strategy = make();
    runRound(strategy, 1, Float32Array.from([0.3, -1, 2]), ROUNDS[0]!);
    expect(() => strategy.beginTrain(2, new Float32Array(4), flatLayout(4))).toThrow(expect.objectContaining({ code: 'weights-layout-invalid' }));
  });

  it("refuses an accumulator begun by another instance (each holds its own moments)", () => {
    const accumulator = make().beginTrain(1, new Float32Array(3), flatLayout(3));
    accumulator.add(reply('a', 1, [1, 1, 1]));
    expect(() => make().aggregateTrain(1, accumulator, [])).toThrow(TypeError);
  });
});

describe('server optimizer steps', () => {
  it('mutate neither the weights, the mean update nor the previous moments', () => {
    for (const optimizer of [
      momentumOptimizer({ serverLearningRate: 1, momentum: 0.9 }),
      adaptiveOptimizer('yogi', { serverLearningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3, initialSecondMoment: 0, biasCorrection: false }),
    ]) {
      const global = Float32Array.from([1, 2]);
      const delta = Float64Array.from([0.1, -0.1]);
      const first = optimizer.step(global, delta, null);
      const snapshot = JSON.stringify(Object.values(first.next.moments).map((m) => Array.from(m)));
      const second = optimizer.step(first.weights, delta, first.next);
      expect(Array.from(global)).toEqual([1, 2]);
      expect(Array.from(delta)).toEqual([0.1, -0.1]);
      expect(JSON.stringify(Object.values(first.next.moments).map((m) => Array.from(m)))).toBe(snapshot);
      expect(second.next.steps).toBe(2);
      expect(second.weights).not.toBe(first.weights);
    }
  });

  it('refuse moments of the wrong length', () => {
    const optimizer = momentumOptimizer({ serverLearningRate: 1, momentum: 0.9 });
    const previous = { steps: 1, moments: { velocity: new Float64Array(3) } };
    expect(() => optimizer.step(new Float32Array(2), new Float64Array(2), previous)).toThrow(/velocity.*2 floats, got 3/);
  });
});

describe('float64 state codec', () => {
  it('round-trips exactly, including extremes', () => {
    const values = Float64Array.from([0, -0, 1e-300, -1.5, Math.PI, Number.MAX_VALUE, 5e-324]);
    expect(decodeFloat64(encodeFloat64(values), values.length, 'm')).toEqual(values);
    const big = Float64Array.from({ length: 100_003 }, (_, i) => Math.sin(i) * 1e-3);
    expect(decodeFloat64(encodeFloat64(big), big.length, 'v')).toEqual(big);
  });

  it("gives the same text with btoa/atob as with Node's Buffer", () => {
    const values = Float64Array.from({ length: 40_001 }, (_, i) => Math.cos(i) * 10 ** ((i % 40) - 20));
    const viaBuffer = encodeFloat64(values);
    expect(encodeFloat64(values, null)).toBe(viaBuffer);
    expect(decodeFloat64(viaBuffer, values.length, 'm', null)).toEqual(values);
    expect(() => decodeFloat64('AAAA*AAA', 1, 'state.moments.m', null)).toThrow(/not valid base64/);
  });

  it('names the field when the length or encoding is wrong', () => {
    expect(() => decodeFloat64(encodeFloat64(new Float64Array(2)), 3, 'state.moments.v')).toThrow('state.moments.v holds 2 floats, expected 3');
    expect(() => decodeFloat64('%%', 1, 'state.moments.v')).toThrow(/state.moments.v is not valid base64/);
    expect(() => decodeFloat64('AAAAAAAAAAA', 1, 'state.moments.v')).toThrow(/not valid base64/); // length not a multiple of 4
    expect(() => decodeFloat64(7, 1, 'state.moments.v')).toThrow(TypeError);
  });
});
