/**
 * The robust strategies through createStrategy: each name builds its strategy with its
 * parameters, norm bounding wraps a nested spec, every mistake is a `config-invalid`
 * FedkitError naming the field, and `needsIndividualUpdates` tells a server which specs
 * cannot run under secure aggregation.
 */
import { describe, expect, it } from 'vitest';
import { createStrategy, needsIndividualUpdates, ROBUST_STRATEGY_NAMES, type StrategySpec } from '../../src/registry.js';
import { reply, runRound } from '../server-opt-harness.js';

describe('createStrategy, robust strategies', () => {
  it.each([
    [{ name: 'fedmedian' }, 'fedmedian'],
    [{ name: 'fedtrimmedavg', beta: 0.1 }, 'fedtrimmedavg'],
    [{ name: 'krum', numMaliciousClients: 1 }, 'krum'],
    [{ name: 'multikrum', numMaliciousClients: 1, numClientsToKeep: 3, kernel: 'js' }, 'multikrum'],
    [{ name: 'bulyan', numMaliciousClients: 0, minReplies: 4 }, 'bulyan'],
    [{ name: 'normbound', maxNorm: 1 }, 'normbound(fedavg)'],
    [{ name: 'normbound', maxNorm: 1, inner: { name: 'krum', numMaliciousClients: 1 } }, 'normbound(krum)'],
  ] satisfies [StrategySpec, string][])('builds %o', (spec, name) => {
    expect(createStrategy(spec).name).toBe(name);
  });

  it('passes the parameters through: a trimmed mean with β = 0.25 of four updates', () => {
    const replies = [reply('a', 1, [0]), reply('b', 1, [1]), reply('c', 1, [3]), reply('d', 1, [100])];
    expect(Array.from(runRound(createStrategy({ name: 'fedtrimmedavg', beta: 0.25 }), 1, new Float32Array(1), replies))).toEqual([2]);
    // Norm bound 1 around the median: [0, 1, 1, 1] → median 1; without the bound, (1 + 3) / 2.
    const bounded = createStrategy({ name: 'normbound', maxNorm: 1, inner: { name: 'fedmedian' } });
    expect(Array.from(runRound(bounded, 1, new Float32Array(1), replies))).toEqual([1]);
  });

  it.each([
    [{ name: 'fedtrimmedavg', beta: 0.5 }, 'strategy.beta', /strategy\.beta \(fedtrimmedavg\): beta must be a finite number in \[0, 0.5\), got 0.5/],
    [{ name: 'krum', numMaliciousClients: -1 }, 'strategy.numMaliciousClients', /numMaliciousClients must be an integer/],
    [{ name: 'krum', numMaliciousClients: 2, minReplies: 5 }, 'strategy.minReplies', /minReplies must be at least 7/],
    [{ name: 'multikrum', numClientsToKeep: 0 }, 'strategy.numClientsToKeep', /numClientsToKeep must be an integer in \[1/],
    [{ name: 'bulyan', numMaliciousClients: 2, minReplies: 10 }, 'strategy.minReplies', /at least 11 \(Bulyan needs n ≥ 4f \+ 3 = 11\)/],
    [{ name: 'fedmedian', beta: 0.1 }, 'strategy.beta', /fedMedian has no option "beta"/],
    [{ name: 'normbound' }, 'strategy.maxNorm', /maxNorm must be a number, got undefined/],
    [{ name: 'normbound', maxNorm: 0 }, 'strategy.maxNorm', /maxNorm must be a finite number > 0, got 0/],
    [{ name: 'normbound', maxNorm: 1, inner: { name: 'fedtrimmedavg', beta: 0.7 } }, 'strategy.inner.beta', /^strategy\.inner\.beta \(fedtrimmedavg\): beta must be/],
    [{ name: 'normbound', maxNorm: 1, inner: { name: 'median' } }, 'strategy.inner.name', /^strategy\.inner\.name: unknown strategy "median"/],
  ])('fails at config time on %o, naming the field', (spec, field, message) => {
    const make = (): unknown => createStrategy(spec as unknown as StrategySpec);
    expect(make).toThrow(message);
    expect(make).toThrow(expect.objectContaining({ code: 'config-invalid', details: { field } }));
  });

  it('says which specs need individual updates (and so cannot run under secure aggregation)', () => {
    expect(ROBUST_STRATEGY_NAMES).toEqual(['fedmedian', 'fedtrimmedavg', 'krum', 'multikrum', 'bulyan', 'normbound']);
    for (const name of ROBUST_STRATEGY_NAMES) expect(needsIndividualUpdates({ name })).toBe(true);
    for (const spec of [{ name: 'fedavg' }, { name: 'fedadam' }, { name: 'nope' }, null, undefined, 'krum']) expect(needsIndividualUpdates(spec)).toBe(false);
  });
});
