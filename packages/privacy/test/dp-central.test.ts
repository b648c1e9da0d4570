import { fedAvg, type Strategy, type TrainReply, type UpdateAccumulator } from '@fedkit/aggregation';
import { FedkitError, seededRandomSource, type WeightsLayout } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { computeEpsilon, RdpAccountant } from '../src/accountant/index.js';
import { assertProductionRandom } from '../src/dp/random-guard.js';
import { withCentralDp, withDistributedDp } from '../src/dp/fixed-clipping.js';
import type { DpStrategy } from '../src/dp/dp-strategy.js';

const LAYOUT: WeightsLayout = [
  { name: 'w', shape: [3] },
  { name: 'b', shape: [1] },
];
const GLOBAL = Float32Array.of(1, 2, 3, 4);

function reply(clientId: string, update: number[], numExamples = 10, metrics: Record<string, number> = { loss: 1 }): TrainReply {
  return Object.freeze({ clientId, numExamples, update: Float32Array.from(update), metrics: Object.freeze({ ...metrics }) });
}

function run(strategy: Strategy, replies: TrainReply[], round = 1, global = GLOBAL) {
  const accumulator = strategy.beginTrain(round, global, LAYOUT);
  for (const r of replies) accumulator.add(r);
  return strategy.aggregateTrain(round, accumulator, []);
}

const central = (extra: Partial<Parameters<typeof withCentralDp>[1]> = {}): DpStrategy =>
  withCentralDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 0, expectedClients: 2, ...extra });

function expectClose(actual: Float32Array | undefined, expected: number[], digits = 6): void {
  expect(actual).toBeDefined();
  expect(Array.from(actual!)).toHaveLength(expected.length);
  expected.forEach((e, i) => expect(actual![i]).toBeCloseTo(e, digits));
}

describe('withCentralDp: clipping, equal weights, fixed denominator', () => {
  it('clips each update to S and averages with equal weights, whatever the example counts', () => {
    // ‖(3, 4, 0, 0)‖ = 5 → clipped to (0.6, 0.8, 0, 0); ‖(0, 0, 0.5, 0)‖ = 0.5 stays.
    const result = run(central(), [reply('a', [3, 4, 0, 0], 1), reply('b', [0, 0, 0.5, 0], 1000)]);
    expectClose(result?.weights, [1 + 0.3, 2 + 0.4, 3 + 0.25, 4]);
  });

  it('divides by the expected number of clients, not by the replies', () => {
    const result = run(central({ expectedClients: 4 }), [reply('a', [0.4, 0, 0, 0]), reply('b', [0.4, 0, 0, 0])]);
    expectClose(result?.weights, [1 + 0.8 / 4, 2, 3, 4]);
  });

  it('hands the wrapped strategy one reply: the noised mean', () => {
    const seen: TrainReply[] = [];
    const inner = fedAvg();
    const spy: Strategy = {
      ...inner,
      beginTrain(round, global, layout): UpdateAccumulator {
        const acc = inner.beginTrain(round, global, layout);
        return Object.assign(Object.create(acc) as UpdateAccumulator, { add: (r: TrainReply) => (seen.push(r), acc.add(r)) });
      },
      aggregateTrain: (round, acc, failures) => inner.aggregateTrain(round, Object.getPrototypeOf(acc) as UpdateAccumulator, failures),
    };
    const strategy = withCentralDp(spy, { clipNorm: 1, noiseMultiplier: 0.5, expectedClients: 2, random: seededRandomSource(3) });
    run(strategy, [reply('a', [0.1, 0, 0, 0]), reply('b', [0, 0.1, 0, 0])]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.clientId).toBe('dp-aggregate');
    expect(seen[0]!.numExamples).toBe(1);
  });

  it('reports example-weighted client metrics and the round’s DP figures, never the exact unclipped count', () => {
    const strategy = central({ noiseMultiplier: 2, expectedClients: 4, random: seededRandomSource(1) });
    const result = run(strategy, [reply('a', [3, 4, 0, 0], 1, { loss: 1, dpUnclipped: 0 }), reply('b', [0, 0, 0.5, 0], 3, { loss: 2, dpUnclipped: 1 })]);
    expect(result!.metrics).toMatchObject({ loss: 1.75, numClients: 2, numExamples: 4, dpClipNorm: 1, dpNoiseMultiplier: 2, dpNoiseStddev: 0.5 });
    expect(result!.metrics).not.toHaveProperty('dpUnclipped');
    expect(result!.metrics).not.toHaveProperty('dpUnclippedFraction');
    expect(strategy.lastRound).toEqual({ round: 1, replies: 2, clipNorm: 1, noiseMultiplier: 2, noiseStddev: 0.5, unclippedFraction: null, nextClipNorm: 1 });
  });

  it('draws the same noise from the same seed, and different noise from the platform CSPRNG', () => {
    const replies = [reply('a', [0.1, 0, 0, 0])];
    const seeded = () => run(central({ noiseMultiplier: 1, random: seededRandomSource(5) }), replies)!.weights;
    expect(seeded()).toEqual(seeded());
    expect(run(central({ noiseMultiplier: 1 }), replies)!.weights).not.toEqual(run(central({ noiseMultiplier: 1 }), replies)!.weights);
  });

  it('mutates neither the replies, their updates, the global weights nor the base config', () => {
    const replies = [reply('a', [3, 4, 0, 0]), reply('b', [0.1, 0.2, 0.3, 0.4])];
    const before = replies.map((r) => r.update.slice());
    const global = GLOBAL.slice();
    const base = { epochs: 1, batchSize: 10, learningRate: 0.1 };
    const strategy = central({ noiseMultiplier: 1, random: seededRandomSource(2) });
    const config = strategy.configureTrain(1, base);
    const result = run(strategy, replies, 1, global);
    replies.forEach((r, k) => expect(r.update).toEqual(before[k]));
    expect(global).toEqual(GLOBAL);
    expect(base).toEqual({ epochs: 1, batchSize: 10, learningRate: 0.1 });
    expect(config).not.toBe(base);
    expect(result!.weights).not.toBe(global);
  });

  it('tells clients the mode and clip norm, but no noise multiplier (the server adds the noise)', () => {
    const config = central({ noiseMultiplier: 1.1 }).configureTrain(1, { epochs: 1, batchSize: 10, learningRate: 0.1 });
    expect(config).toEqual({ epochs: 1, batchSize: 10, learningRate: 0.1, dpMode: 'central', clipNorm: 1 });
  });

  it('returns null below minReplies, and when the wrapped strategy declines', () => {
    expect(run(central({ minReplies: 2 }), [reply('a', [0, 0, 0, 0])])).toBeNull();
    expect(run(withCentralDp(fedAvg({ minReplies: 2 }), { clipNorm: 1, noiseMultiplier: 0, expectedClients: 2 }), [reply('a', [0, 0, 0, 0])])).toBeNull();
  });
});

describe('withDistributedDp', () => {
  const strategy = () => withDistributedDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 1.2, expectedClients: 4 });

  it('tells clients S, z and m, the inputs of distributedDpMod', () => {
    expect(strategy().configureTrain(1, { epochs: 1, batchSize: null, learningRate: 0.1 })).toEqual({
      epochs: 1,
      batchSize: null,
      learningRate: 0.1,
      dpMode: 'distributed',
      clipNorm: 1,
      noiseMultiplier: 1.2,
      expectedClients: 4,
    });
  });

  it('adds no noise and does not re-clip (the updates arrive noised), dividing the sum by m', () => {
    const s = strategy();
    const result = run(s, [reply('a', [3, 0, 0, 0]), reply('b', [1, 4, 0, 0])]);
    expectClose(result?.weights, [1 + 4 / 4, 2 + 4 / 4, 3, 4]);
    // 2 of 4 clients' noise is in the sum: z·√(2/4).
    expect(s.lastRound!.noiseMultiplier).toBeCloseTo(1.2 * Math.SQRT1_2, 12);
    expect(s.lastRound!.noiseStddev).toBeCloseTo((1.2 * Math.SQRT1_2) / 4, 12);
  });

  it('rejects an update holding NaN with update-not-finite', () => {
    const acc = strategy().beginTrain(1, GLOBAL, LAYOUT);
    expect(() => acc.add(reply('a', [0, Number.NaN, 0, 0]))).toThrow(expect.objectContaining({ code: 'update-not-finite' }));
    expect(acc.count).toBe(0);
  });
});

describe('privacy facts for the accountant', () => {
  it('gives z, q = m / available (capped at 1) and S', () => {
    const strategy = withCentralDp(fedAvg(), { clipNorm: 0.7, noiseMultiplier: 1.1, expectedClients: 100 });
    expect(strategy.privacyFacts({ availableClients: 1000 })).toEqual({
      mode: 'central',
      noiseMultiplier: 1.1,
      samplingRate: 0.1,
      clipNorm: 0.7,
      expectedClients: 100,
    });
    expect(strategy.privacyFacts({ availableClients: 50 }).samplingRate).toBe(1);
    expect(() => strategy.privacyFacts({ availableClients: 0 })).toThrow(RangeError);
  });

  it('charging the accountant with them every round spends what computeEpsilon predicts', () => {
    const strategy = withCentralDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 1.5, expectedClients: 40 });
    const accountant = new RdpAccountant();
    for (let round = 1; round <= 30; round++) accountant.charge(strategy.privacyFacts({ availableClients: 1000 }));
    const expected = computeEpsilon({ samplingRate: 0.04, noiseMultiplier: 1.5, steps: 30, delta: 1e-5 });
    expect(accountant.epsilon(1e-5)).toEqual(expected);
  });

  it('reports the kind of random source, which assertProductionRandom checks', () => {
    expect(central().random.kind).toBe('crypto');
    expect(() => assertProductionRandom(central().random)).not.toThrow();
    const seeded = central({ random: seededRandomSource(1) });
    expect(() => assertProductionRandom(seeded.random, 'the DP strategy')).toThrow(/the DP strategy draws from a "seeded"/);
  });
});

describe('fixed-clip state', () => {
  it('round-trips through JSON and refuses a state with another clip or strategy', () => {
    const a = central();
    run(a, [reply('a', [0, 0, 0, 0])], 4);
    const state = JSON.parse(JSON.stringify(a.toJSON()));
    expect(state).toEqual({ kind: 'dp-strategy', version: 1, name: 'dp-central(fedavg)', clipNorm: 1, lastRound: 4 });
    const b = central();
    b.fromJSON(state);
    expect(b.toJSON()).toEqual(state);
    expect(() => central({ clipNorm: 2 }).fromJSON(state)).toThrow(/differs from this strategy's fixed clipNorm 2/);
    const distributed = withDistributedDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 0, expectedClients: 2 });
    expect(() => distributed.fromJSON(state)).toThrow(expect.objectContaining({ code: 'config-invalid' }));
    for (const bad of [null, { ...state, version: 2 }, { ...state, clipNorm: -1 }, { ...state, lastRound: 1.5 }, { ...state, kind: 'x' }]) {
      expect(() => central().fromJSON(bad)).toThrow(FedkitError);
    }
  });
});

describe('errors', () => {
  it('rejects bad options when the wrapper is made, naming the option', () => {
    const base = { clipNorm: 1, noiseMultiplier: 1, expectedClients: 10 };
    expect(() => withCentralDp(fedAvg(), { ...base, clipNorm: 0 })).toThrow(/clipNorm must be a finite number > 0, got 0/);
    expect(() => withCentralDp(fedAvg(), { ...base, noiseMultiplier: -1 })).toThrow(/noiseMultiplier must be a finite number ≥ 0/);
    expect(() => withCentralDp(fedAvg(), { ...base, expectedClients: 0 })).toThrow(RangeError);
    expect(() => withCentralDp(fedAvg(), { ...base, minReplies: 0 })).toThrow(/minReplies must be an integer ≥ 1/);
    expect(() => withCentralDp(fedAvg(), { ...base, noiseMultipler: 2 } as never)).toThrow(/no option "noiseMultipler"/);
    expect(() => withCentralDp(fedAvg(), { ...base, random: {} as never })).toThrow(TypeError);
    expect(() => withCentralDp({} as Strategy, base)).toThrow(/must wrap a Strategy/);
    expect(() => withDistributedDp(fedAvg(), { ...base, clipNorm: Number.NaN })).toThrow(RangeError);
  });

  it('rejects a foreign accumulator, the wrong round, and aggregating twice', () => {
    const a = central();
    const b = central();
    expect(() => a.aggregateTrain(1, b.beginTrain(1, GLOBAL, LAYOUT), [])).toThrow(TypeError);
    expect(() => a.aggregateTrain(1, fedAvg().beginTrain(1, GLOBAL, LAYOUT), [])).toThrow(TypeError);
    expect(() => a.aggregateTrain(2, a.beginTrain(1, GLOBAL, LAYOUT), [])).toThrow(RangeError);
    const acc = a.beginTrain(1, GLOBAL, LAYOUT);
    acc.add(reply('a', [0, 0, 0, 0]));
    a.aggregateTrain(1, acc, []);
    expect(() => a.aggregateTrain(1, acc, [])).toThrow(expect.objectContaining({ code: 'round-closed' }));
    expect(() => acc.add(reply('b', [0, 0, 0, 0]))).toThrow(expect.objectContaining({ code: 'round-closed' }));
  });

  it('rejects bad replies without folding them', () => {
    const acc = central().beginTrain(1, GLOBAL, LAYOUT);
    expect(() => acc.add(reply('a', [0, 0, 0]))).toThrow(expect.objectContaining({ code: 'update-size-mismatch' }));
    expect(() => acc.add(reply('a', [Number.POSITIVE_INFINITY, 0, 0, 0]))).toThrow(expect.objectContaining({ code: 'update-not-finite' }));
    expect(() => acc.add(reply('a', [0, 0, 0, 0], -1))).toThrow(RangeError);
    expect(() => acc.add({ ...reply('a', [0, 0, 0, 0]), update: [0, 0, 0, 0] as never })).toThrow(TypeError);
    expect(() => acc.add({ ...reply('a', [0, 0, 0, 0]), metrics: null as never })).toThrow(TypeError);
    expect(acc.count).toBe(0);
    expect(() => central().beginTrain(1, GLOBAL.subarray(1), LAYOUT)).toThrow(expect.objectContaining({ code: 'weights-layout-invalid' }));
  });
});
