/**
 * The DP wrappers' partial sums, as a multi-process server merges them: clipping happens in
 * each process as its replies arrive, the coordinator adds the clipped sums (and adaptive
 * clipping's unclipped counts) and adds the noise once. With the same seeded noise source
 * the merged round equals the one-process round.
 */
import { fedAvg, type Strategy, type TrainReply } from '@fedkit/aggregation';
import { seededRandomSource, type WeightsLayout } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { withAdaptiveClipping } from '../src/dp/adaptive-clipping.js';
import { withCentralDp } from '../src/dp/fixed-clipping.js';

const LAYOUT: WeightsLayout = [{ name: 'w', shape: [4] }];
const GLOBAL = Float32Array.of(1, 2, 3, 4);

function reply(clientId: string, update: number[], numExamples = 5): TrainReply {
  return Object.freeze({ clientId, numExamples, update: Float32Array.from(update), metrics: Object.freeze({ loss: numExamples }) });
}

// Norms 5, 0.5, 2 and 0.1: with S = 1 the first and third are clipped.
const REPLIES = [reply('a', [3, 4, 0, 0], 1), reply('b', [0, 0, 0.5, 0], 1000), reply('c', [0, 2, 0, 0], 7), reply('d', [0, 0, 0, 0.1], 3)];

function oneProcess(strategy: Strategy): { weights: Float32Array; metrics: Record<string, number> } {
  const acc = strategy.beginTrain(1, GLOBAL, LAYOUT);
  for (const r of REPLIES) acc.add(r);
  const result = strategy.aggregateTrain(1, acc, [])!;
  return { weights: result.weights, metrics: result.metrics };
}

function threeProcesses(strategy: Strategy): { weights: Float32Array; metrics: Record<string, number> } {
  const groups = [[REPLIES[0]!, REPLIES[2]!], [REPLIES[1]!], [REPLIES[3]!]];
  const partials = groups.map((group) => {
    const acc = strategy.beginTrain(1, GLOBAL, LAYOUT);
    for (const r of group) acc.add(r);
    return acc.exportPartial!();
  });
  const coordinator = strategy.beginTrain(1, GLOBAL, LAYOUT);
  for (const p of partials) coordinator.mergePartial!(p);
  expect(coordinator.count).toBe(4);
  const result = strategy.aggregateTrain(1, coordinator, [])!;
  return { weights: result.weights, metrics: result.metrics };
}

function expectSameWeights(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i]!, 6);
}

describe('DP partial sums merged across processes', () => {
  it('central DP without noise: the clipped, equally weighted mean with the fixed denominator, by hand', () => {
    const strategy = withCentralDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 0, expectedClients: 4 });
    const { weights } = threeProcesses(strategy);
    // Clipped: a → (0.6, 0.8, 0, 0), c → (0, 1, 0, 0); b and d unchanged. Sum / 4.
    expectSameWeights(weights, Float32Array.of(1 + 0.6 / 4, 2 + 1.8 / 4, 3 + 0.5 / 4, 4 + 0.1 / 4));
  });

  it('central DP with noise: the same seed gives the same model merged or not (the noise is added once)', () => {
    const make = (): Strategy => withCentralDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 1, expectedClients: 4, random: seededRandomSource(7) });
    expectSameWeights(threeProcesses(make()).weights, oneProcess(make()).weights);
  });

  it('adaptive clipping: the merged unclipped count moves the clip norm as in one process', () => {
    const make = () => withAdaptiveClipping(fedAvg(), { noiseMultiplier: 0, expectedClients: 4, initialClipNorm: 1, targetQuantile: 0.8, random: seededRandomSource(3) });
    const single = make();
    oneProcess(single);
    const cluster = make();
    threeProcesses(cluster);
    // Two of four updates fit under S = 1: b̄ = 0.5 < γ = 0.8, so S grows by exp(0.2·0.3) in both.
    expect(cluster.lastRound).toEqual(single.lastRound);
    expect(cluster.clipNorm).toBeCloseTo(single.clipNorm, 12);
    expect(cluster.clipNorm).toBeCloseTo(Math.exp(0.2 * 0.3), 12);
  });

  it('refuses a plain weighted-mean partial in a DP round', () => {
    const strategy = withCentralDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 0, expectedClients: 4 });
    const plain = fedAvg().beginTrain(1, GLOBAL, LAYOUT);
    plain.add(REPLIES[1]!);
    const coordinator = strategy.beginTrain(1, GLOBAL, LAYOUT);
    expect(() => coordinator.mergePartial!(plain.exportPartial!())).toThrow(/cannot merge a "weighted-mean" partial into a DP round/);
  });
});
