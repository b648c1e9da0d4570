/**
 * createStrategy: every name builds its strategy with its parameters, and every mistake is a
 * `config-invalid` FedkitError naming the field and, for names, the allowed values. Also
 * FedProx's server side: FedAvg plus `proximalMu` in the train config.
 */
import { FedkitError } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { fedProx } from '../src/fedprox.js';
import { createStrategy, isServerOptStrategy, isStrategyName, STRATEGY_NAMES, type StrategySpec } from '../src/registry.js';
import { reply, runRound } from './server-opt-harness.js';

const BASE = { epochs: 1, batchSize: 10, learningRate: 0.1 };

describe('createStrategy', () => {
  it.each([
    [{ name: 'fedavg' }, 'fedavg', false],
    [{ name: 'fedavgm', momentum: 0.9 }, 'fedavgm', true],
    [{ name: 'fedadam', serverLearningRate: 0.01, tau: 1e-3, biasCorrection: true }, 'fedadam', true],
    [{ name: 'fedyogi', beta2: 0.999 }, 'fedyogi', true],
    [{ name: 'fedadagrad', minReplies: 2 }, 'fedadagrad', true],
    [{ name: 'fedprox', proximalMu: 0.1, kernel: 'js' }, 'fedprox', false],
  ] satisfies [StrategySpec, string, boolean][])('builds %o', (spec, name, persistent) => {
    const strategy = createStrategy(spec);
    expect(strategy.name).toBe(name);
    expect(isServerOptStrategy(strategy)).toBe(persistent);
  });

  it('takes a bare name for the strategy with its defaults, also as normbound\'s inner strategy', () => {
    expect(createStrategy('fedmedian').name).toBe(createStrategy({ name: 'fedmedian' }).name);
    const bounded = createStrategy({ name: 'normbound', maxNorm: 1, inner: 'fedmedian' });
    expect(bounded.name).toBe(createStrategy({ name: 'normbound', maxNorm: 1, inner: { name: 'fedmedian' } }).name);
    expect(() => createStrategy('fedmean' as never)).toThrow(expect.objectContaining({ code: 'config-invalid', details: { field: 'strategy.name' } }));
    expect(() => createStrategy({ name: 'normbound', maxNorm: 1, inner: 'fedmean' as never })).toThrow(
      expect.objectContaining({ code: 'config-invalid', details: { field: 'strategy.inner.name' } }),
    );
  });

  it('passes the parameters through to the factory', () => {
    const strategy = createStrategy({ name: 'fedavgm', serverLearningRate: 0.5 });
    expect(Array.from(runRound(strategy, 1, new Float32Array(2), [reply('a', 1, [1, -1])]))).toEqual([0.5, -0.5]);
  });

  it('names an unknown strategy and the allowed ones', () => {
    const make = (): unknown => createStrategy({ name: 'fedmean' } as unknown as StrategySpec);
    expect(make).toThrow(FedkitError);
    expect(make).toThrow('strategy.name: unknown strategy "fedmean"; allowed: fedavg, fedavgm, fedadam, fedyogi, fedadagrad, fedprox, fedmedian, fedtrimmedavg, krum, multikrum, bulyan, normbound');
    expect(make).toThrow(expect.objectContaining({ code: 'config-invalid', details: { field: 'strategy.name' } }));
    expect(() => createStrategy({} as StrategySpec)).toThrow(/unknown strategy undefined/);
    expect(() => createStrategy(null as unknown as StrategySpec)).toThrow(expect.objectContaining({ code: 'config-invalid' }));
  });

  it.each([
    [{ name: 'fedadam', beta1: 1 }, 'strategy.beta1', /strategy\.beta1 \(fedadam\): beta1 must be a finite number in \[0, 1\), got 1/],
    [{ name: 'fedyogi', beta2: -0.1 }, 'strategy.beta2', /beta2/],
    [{ name: 'fedadagrad', tau: 0 }, 'strategy.tau', /tau must be a finite number > 0/],
    [{ name: 'fedavgm', serverLearningRate: -1 }, 'strategy.serverLearningRate', /serverLearningRate/],
    [{ name: 'fedavgm', momentum: 1 }, 'strategy.momentum', /momentum/],
    [{ name: 'fedprox', proximalMu: -0.01 }, 'strategy.proximalMu', /proximalMu must be a finite number ≥ 0, got -0.01/],
    [{ name: 'fedprox' }, 'strategy.proximalMu', /proximalMu must be a number, got undefined/],
    [{ name: 'fedavg', beta1: 0.9 }, 'strategy.beta1', /fedAvg has no option "beta1"/],
    [{ name: 'fedavg', minReplies: 0 }, 'strategy.minReplies', /minReplies/],
  ])('fails at config time on %o, naming the field', (spec, field, message) => {
    const make = (): unknown => createStrategy(spec as unknown as StrategySpec);
    expect(make).toThrow(message);
    expect(make).toThrow(expect.objectContaining({ code: 'config-invalid', details: { field } }));
  });

  it('knows its names', () => {
    expect(STRATEGY_NAMES).toEqual(['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'fedprox', 'fedmedian', 'fedtrimmedavg', 'krum', 'multikrum', 'bulyan', 'normbound']);
    expect(isStrategyName('fedyogi')).toBe(true);
    expect(isStrategyName('FedYogi')).toBe(false);
  });
});

describe('fedProx (server side)', () => {
  it('adds proximalMu to every train config without touching the base', () => {
    const base = { ...BASE };
    const config = fedProx({ proximalMu: 0.01 }).configureTrain(3, base);
    expect(config).toEqual({ ...BASE, proximalMu: 0.01 });
    expect(base).toEqual(BASE);
  });

  it('aggregates as FedAvg', () => {
    const weights = runRound(fedProx({ proximalMu: 1 }), 1, Float32Array.from([1, 1]), [reply('a', 1, [1, 0]), reply('b', 3, [0, 4])]);
    expect(Array.from(weights)).toEqual([1.25, 4]);
  });

  it('allows μ = 0 (FedAvg with the key sent) and rejects a missing or negative μ', () => {
    expect(fedProx({ proximalMu: 0 }).configureTrain(1, BASE)?.proximalMu).toBe(0);
    expect(() => fedProx({} as { proximalMu: number })).toThrow(TypeError);
    expect(() => fedProx({ proximalMu: -1 })).toThrow(RangeError);
    expect(() => fedProx({ proximalMu: 0.1, mu: 1 } as unknown as { proximalMu: number })).toThrow(/fedProx has no option "mu"/);
  });
});
