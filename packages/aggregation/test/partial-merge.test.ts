/**
 * Partial sums, as a multi-process server uses them: each process folds its own replies and
 * exports the partial; the coordinator merges the partials into one accumulator and
 * aggregates. The result must be the one accumulator that saw every reply would give.
 */
import { describe, expect, it } from 'vitest';
import type { WeightsLayout } from '@fedkit/protocol';
import { createStrategy, type Strategy, type TrainReply } from '../src/index.js';

const LAYOUT: WeightsLayout = [{ name: 'w', shape: [3] }, { name: 'b', shape: [2] }];
const GLOBAL = Float32Array.from([0.5, -1, 2, 0, 0.25]);

const REPLIES: TrainReply[] = [
  { clientId: 'a', numExamples: 10, update: Float32Array.from([0.1, 0.2, -0.3, 0.4, 0]), metrics: { loss: 1 } },
  { clientId: 'b', numExamples: 30, update: Float32Array.from([-0.5, 0, 0.1, 0.2, 1]), metrics: { loss: 2 } },
  { clientId: 'c', numExamples: 5, update: Float32Array.from([1, 1, 1, 1, 1]), metrics: { loss: 0.5 } },
  { clientId: 'd', numExamples: 55, update: Float32Array.from([0, -0.25, 0.75, -1, 0.5]), metrics: { loss: 4 } },
];

function oneProcess(strategy: Strategy, replies: readonly TrainReply[]): Float32Array {
  const acc = strategy.beginTrain(1, GLOBAL, LAYOUT);
  for (const r of replies) acc.add(r);
  return strategy.aggregateTrain(1, acc, [])!.weights;
}

/** Folds each group in its own accumulator, then merges the exported partials into a fresh one. */
function merged(strategy: Strategy, groups: readonly (readonly TrainReply[])[]): { weights: Float32Array; metrics: Record<string, number> } {
  const partials = groups.map((group) => {
    const acc = strategy.beginTrain(1, GLOBAL, LAYOUT);
    for (const r of group) acc.add(r);
    return acc.exportPartial!();
  });
  const coordinator = strategy.beginTrain(1, GLOBAL, LAYOUT);
  for (const p of partials) coordinator.mergePartial!(p);
  expect(coordinator.count).toBe(groups.flat().length);
  expect(coordinator.totalWeight).toBe(groups.flat().reduce((s, r) => s + r.numExamples, 0));
  const result = strategy.aggregateTrain(1, coordinator, [])!;
  return { weights: result.weights, metrics: result.metrics };
}

describe('exportPartial / mergePartial', () => {
  const specs = ['fedavg', { name: 'fedprox', proximalMu: 0.01 }, 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const;
  for (const spec of specs) {
    const name = typeof spec === 'string' ? spec : spec.name;
    it(`${name}: three partials merged give the model of one accumulator that saw every reply`, () => {
      const expected = oneProcess(createStrategy(spec), REPLIES);
      const { weights } = merged(createStrategy(spec), [[REPLIES[0]!, REPLIES[3]!], [REPLIES[1]!], [REPLIES[2]!]]);
      expect(weights.length).toBe(expected.length);
      for (let i = 0; i < expected.length; i++) expect(weights[i]).toBeCloseTo(expected[i]!, 6);
    });
  }

  it('FedAvg by hand: Σ n_k Δ_k / Σ n_k over the merged partials, and example-weighted metrics', () => {
    const { weights, metrics } = merged(createStrategy('fedavg'), [[REPLIES[0]!], [REPLIES[1]!, REPLIES[2]!], [REPLIES[3]!]]);
    // Coordinate 0: (10·0.1 + 30·(−0.5) + 5·1 + 55·0) / 100 = −0.09.
    expect(weights[0]).toBeCloseTo(0.5 - 0.09, 6);
    // Loss: (10·1 + 30·2 + 5·0.5 + 55·4) / 100 = 2.925.
    expect(metrics.loss).toBeCloseTo(2.925, 12);
  });

  it('an empty partial (a process none of whose clients answered) changes nothing', () => {
    const expected = oneProcess(createStrategy('fedavg'), REPLIES);
    const { weights } = merged(createStrategy('fedavg'), [REPLIES, []]);
    for (let i = 0; i < expected.length; i++) expect(weights[i]).toBeCloseTo(expected[i]!, 6);
  });

  it('does not mutate the partial it merges', () => {
    const strategy = createStrategy('fedavg');
    const acc = strategy.beginTrain(1, GLOBAL, LAYOUT);
    acc.add(REPLIES[0]!);
    const partial = acc.exportPartial!();
    const copy = Float64Array.from(partial.sum);
    const coordinator = strategy.beginTrain(1, GLOBAL, LAYOUT);
    coordinator.mergePartial!(partial);
    coordinator.mergePartial!(partial);
    expect(Array.from(partial.sum)).toEqual(Array.from(copy));
    expect(partial.count).toBe(1);
  });

  it('refuses a partial of another kind, of another size, and any partial after aggregation', () => {
    const strategy = createStrategy('fedavg');
    const acc = strategy.beginTrain(1, GLOBAL, LAYOUT);
    acc.add(REPLIES[0]!);
    const partial = acc.exportPartial!();
    const coordinator = strategy.beginTrain(1, GLOBAL, LAYOUT);
    expect(() => coordinator.mergePartial!({ ...partial, kind: 'dp' })).toThrow(/cannot merge a "dp" partial/);
    expect(() => coordinator.mergePartial!({ ...partial, sum: new Float64Array(4) })).toThrow(expect.objectContaining({ code: 'update-size-mismatch' }));
    coordinator.mergePartial!(partial);
    strategy.aggregateTrain(1, coordinator, []);
    expect(() => coordinator.mergePartial!(partial)).toThrow(expect.objectContaining({ code: 'round-closed' }));
    expect(() => coordinator.exportPartial!()).toThrow(expect.objectContaining({ code: 'round-closed' }));
  });
});
