import { fedAvg, type Strategy, type TrainReply } from '@fedkit/aggregation';
import { seededRandomSource, type WeightsLayout } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { gaussianSampler } from '../src/gaussian.js';
import { adaptiveNoiseSplit, combinedNoiseMultiplier, nextClipNorm, noisedUnclippedFraction } from '../src/dp/adaptive-math.js';
import { withAdaptiveClipping, type AdaptiveClippingOptions } from '../src/dp/adaptive-clipping.js';

const LAYOUT: WeightsLayout = [{ name: 'w', shape: [4] }];
const GLOBAL = new Float32Array(4);

function reply(clientId: string, update: number[], metrics: Record<string, number> = {}): TrainReply {
  return Object.freeze({ clientId, numExamples: 5, update: Float32Array.from(update), metrics: Object.freeze(metrics) });
}

function run(strategy: Strategy, replies: readonly TrainReply[], round: number) {
  const accumulator = strategy.beginTrain(round, GLOBAL, LAYOUT);
  for (const r of replies) accumulator.add(r);
  return strategy.aggregateTrain(round, accumulator, []);
}

/** Four clients whose update norms are 0.05, 0.2, 0.3 and 1. */
const NORMS_REPLIES = [reply('a', [0.05, 0, 0, 0]), reply('b', [0, 0.2, 0, 0]), reply('c', [0, 0, 0.3, 0]), reply('d', [0, 0, 0, 1])];

const adaptive = (options: Partial<AdaptiveClippingOptions> = {}) =>
  withAdaptiveClipping(fedAvg(), { noiseMultiplier: 0, expectedClients: 4, ...options });

describe('the noise split between updates and the clipped count', () => {
  it('z = (z_total⁻² − (2σ_b)⁻²)^(−1/2) with σ_b = m/20: z_total = 1, m = 100 → σ_b = 5, z = 1/√0.99', () => {
    const split = adaptiveNoiseSplit({ noiseMultiplier: 1, expectedClients: 100 });
    expect(split.clippedCountStddev).toBe(5);
    expect(split.updateNoiseMultiplier).toBeCloseTo(1 / Math.sqrt(0.99), 14); // 1.0050378…
    expect(combinedNoiseMultiplier(split.updateNoiseMultiplier, split.clippedCountStddev)).toBeCloseTo(1, 14);
  });

  it('uses a given σ_b, and is all zeros when z_total = 0 (as TFF)', () => {
    expect(adaptiveNoiseSplit({ noiseMultiplier: 0.5, expectedClients: 10, clippedCountStddev: 1 }).updateNoiseMultiplier).toBeCloseTo(
      (0.5 ** -2 - 2 ** -2) ** -0.5,
      14,
    );
    expect(adaptiveNoiseSplit({ noiseMultiplier: 0, expectedClients: 10 })).toEqual({ updateNoiseMultiplier: 0, clippedCountStddev: 0 });
  });

  it('refuses z_total ≥ 2σ_b: m = 10 gives σ_b = 0.5, so z_total = 1 cannot be kept', () => {
    expect(() => adaptiveNoiseSplit({ noiseMultiplier: 1, expectedClients: 10 })).toThrow(/must be below 2·clippedCountStddev = 1/);
    expect(() => withAdaptiveClipping(fedAvg(), { noiseMultiplier: 1, expectedClients: 10 })).toThrow(RangeError);
    expect(() => adaptiveNoiseSplit({ noiseMultiplier: 0.1, expectedClients: 10, clippedCountStddev: 0 })).toThrow(RangeError);
  });

  it('charges the accountant with z_total, and adds the larger update noise', () => {
    const strategy = withAdaptiveClipping(fedAvg(), { noiseMultiplier: 1, expectedClients: 100, random: seededRandomSource(1) });
    const facts = strategy.privacyFacts({ availableClients: 1000 });
    expect(facts.noiseMultiplier).toBeCloseTo(1, 14);
    expect(facts).toMatchObject({ mode: 'central', samplingRate: 0.1, clipNorm: 0.1, expectedClients: 100 });
    const result = run(strategy, [reply('a', [1, 0, 0, 0])], 1);
    expect(result!.metrics.dpNoiseStddev).toBeCloseTo((0.1 / Math.sqrt(0.99)) / 100, 14); // z·S/m with z = 1.00504
    expect(strategy.lastRound!.noiseMultiplier).toBeCloseTo(1, 14);
  });
});

describe('the clip trajectory follows S ← S·exp(−η(b̄ − γ)) (Andrew et al. 2021, Alg. 1; defaults 0.1, 0.5, 0.2)', () => {
  it('without noise: b̄ = 1/4 for 14 rounds (S = 0.1·e^(0.05k) < 0.2), then b̄ = 1/2 = γ holds S at 0.1·e^0.7', () => {
    // Hand computation: while S < 0.2 only the 0.05 update is under S, so b̄ = 1/4 and each
    // round multiplies S by exp(−0.2·(0.25 − 0.5)) = e^0.05. After k rounds S = 0.1·e^(0.05k);
    // k = 13 gives 0.19155 < 0.2 and k = 14 gives 0.20138 ≥ 0.2. From round 15 two of four
    // norms are ≤ S, b̄ = 0.5 = γ and S stays at 0.1·e^0.7 = 0.20137527074704767.
    const strategy = adaptive();
    const clips: number[] = [];
    for (let round = 1; round <= 20; round++) {
      clips.push(strategy.clipNorm);
      const result = run(strategy, NORMS_REPLIES, round);
      expect(result!.metrics.dpUnclippedFraction).toBe(round <= 14 ? 0.25 : 0.5);
    }
    expect(clips[0]).toBe(0.1);
    expect(clips[1]).toBeCloseTo(0.1 * 1.0512710963760241, 15);
    expect(clips[13]).toBeCloseTo(0.1 * Math.exp(0.65), 14);
    expect(clips[14]).toBeCloseTo(0.20137527074704767, 14);
    expect(strategy.clipNorm).toBeCloseTo(0.20137527074704767, 14);
    for (let k = 0; k <= 14; k++) expect(clips[k]).toBeCloseTo(0.1 * Math.exp(0.05 * k), 14);
  });

  it('clips each round with the S it announced, then updates S', () => {
    const strategy = adaptive();
    expect(strategy.configureTrain(1, { epochs: 1, batchSize: 10, learningRate: 0.1 })).toMatchObject({ dpMode: 'central', clipNorm: 0.1 });
    const result = run(strategy, NORMS_REPLIES, 1);
    // Clipped to 0.1 (clipL2 shrinks by ~2⁻²² so float32 rounding stays ≤ S): (0.05, 0.1, 0.1, 0.1)/4.
    [0.0125, 0.025, 0.025, 0.025].forEach((w, i) => expect(result!.weights[i]).toBeCloseTo(w, 6));
    expect(result!.metrics.dpClipNorm).toBe(0.1);
    expect(strategy.configureTrain(2, { epochs: 1, batchSize: 10, learningRate: 0.1 })!.clipNorm).toBeCloseTo(0.1 * Math.exp(0.05), 15);
  });

  it('with count noise: b̄ = clamp(½ + (Σ(b_k − ½) + σ_b·N)/m, 0, 1), N the round’s draw from the seeded source', () => {
    const strategy = adaptive({ clippedCountStddev: 2, random: seededRandomSource(99) });
    const reference = seededRandomSource(99);
    let clip = 0.1;
    for (let round = 1; round <= 6; round++) {
      const unclipped = [0.05, 0.2, 0.3, 1].filter((norm) => norm <= clip).length;
      const n = gaussianSampler(reference)(); // z_total = 0: the update takes no draws, the count one
      const fraction = Math.min(1, Math.max(0, 0.5 + (unclipped - 4 / 2 + 2 * n) / 4));
      const result = run(strategy, NORMS_REPLIES, round);
      expect(result!.metrics.dpUnclippedFraction).toBeCloseTo(fraction, 14);
      clip *= Math.exp(-0.2 * (fraction - 0.5));
      expect(strategy.clipNorm).toBeCloseTo(clip, 14);
    }
  });

  it('counts a missing client as ½ under the fixed denominator, and clamps b̄ to [0, 1]', () => {
    expect(noisedUnclippedFraction({ unclippedCount: 2, replies: 2, expectedClients: 4, clippedCountStddev: 0, standardNormal: 0 })).toBe(0.75);
    expect(noisedUnclippedFraction({ unclippedCount: 4, replies: 4, expectedClients: 4, clippedCountStddev: 1, standardNormal: 5 })).toBe(1);
    expect(noisedUnclippedFraction({ unclippedCount: 0, replies: 4, expectedClients: 4, clippedCountStddev: 1, standardNormal: -5 })).toBe(0);
    expect(nextClipNorm(0.1, 1, { targetQuantile: 0.5, clipLearningRate: 0.2 })).toBeCloseTo(0.1 * Math.exp(-0.1), 15);
    expect(() => nextClipNorm(0.1, 1.5, { targetQuantile: 0.5, clipLearningRate: 0.2 })).toThrow(RangeError);
  });

  it('with noise (z_total = 1, m = 51, seeded), S settles at the median norm', () => {
    // Norms 0.1, 0.2, …, 5.1: median 2.6, 45%/55% quantiles ≈ 2.35/2.85, 40%/60% 2.1/3.1.
    // σ_b = 2.55, so b̄ carries noise with stddev 0.05 and S jitters by about 1% per round.
    // (Seeds 1–7 give late means 2.56–2.64.)
    const replies = Array.from({ length: 51 }, (_, k) => reply(`c${k}`, [(k + 1) / 10, 0, 0, 0]));
    const strategy = withAdaptiveClipping(fedAvg(), { noiseMultiplier: 1, expectedClients: 51, random: seededRandomSource(2021) });
    const late: number[] = [];
    for (let round = 1; round <= 150; round++) {
      run(strategy, replies, round);
      if (round > 100) late.push(strategy.clipNorm);
    }
    const mean = late.reduce((a, b) => a + b, 0) / late.length;
    expect(mean).toBeGreaterThan(2.35);
    expect(mean).toBeLessThan(2.85);
    expect(Math.min(...late)).toBeGreaterThan(2.1);
    expect(Math.max(...late)).toBeLessThan(3.1);
  });
});

describe('adaptive clipping on clients (distributed mode)', () => {
  const distributed = () => adaptive({ mode: 'distributed' });

  it('tells clients S, the update z (not z_total) and m', () => {
    const strategy = withAdaptiveClipping(fedAvg(), { mode: 'distributed', noiseMultiplier: 1, expectedClients: 100 });
    const config = strategy.configureTrain(1, { epochs: 1, batchSize: 10, learningRate: 0.1 })!;
    expect(config).toMatchObject({ dpMode: 'distributed', clipNorm: 0.1, expectedClients: 100 });
    expect(config.noiseMultiplier).toBeCloseTo(1 / Math.sqrt(0.99), 14);
  });

  it('counts the clients’ dpUnclipped bits and does not re-clip', () => {
    const strategy = distributed();
    const replies = [1, 1, 1, 0].map((bit, k) => reply(`c${k}`, [k === 3 ? 5 : 0.01, 0, 0, 0], { dpUnclipped: bit, loss: 1 }));
    const result = run(strategy, replies, 1);
    expect(result!.metrics.dpUnclippedFraction).toBe(0.75);
    expect(result!.weights[0]).toBeCloseTo((0.03 + 5) / 4, 6);
    expect(strategy.clipNorm).toBeCloseTo(0.1 * Math.exp(-0.2 * 0.25), 15);
  });

  it('rejects a reply without a 0/1 bit as invalid-message, leaving the round untouched', () => {
    const acc = distributed().beginTrain(1, GLOBAL, LAYOUT);
    expect(() => acc.add(reply('a', [0, 0, 0, 0]))).toThrow(expect.objectContaining({ code: 'invalid-message' }));
    expect(() => acc.add(reply('a', [0, 0, 0, 0], { dpUnclipped: 0.5 }))).toThrow(/as 0 or 1 .* got 0.5/);
    expect(acc.count).toBe(0);
  });

  it('in central mode the server counts from the norms it sees, ignoring what clients claim', () => {
    const strategy = adaptive();
    run(strategy, [0, 1, 2, 3].map((k) => reply(`c${k}`, [9, 0, 0, 0], { dpUnclipped: 1 })), 1);
    expect(strategy.lastRound!.unclippedFraction).toBe(0);
  });
});

describe('adaptive state', () => {
  it('persists the current clip through JSON; a restored strategy continues the same trajectory', () => {
    const a = adaptive();
    for (let round = 1; round <= 3; round++) run(a, NORMS_REPLIES, round);
    const b = adaptive();
    b.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    expect(b.clipNorm).toBe(a.clipNorm);
    expect(b.toJSON()).toEqual({ kind: 'dp-strategy', version: 1, name: 'dp-adaptive-central(fedavg)', clipNorm: a.clipNorm, lastRound: 3 });
    run(a, NORMS_REPLIES, 4);
    run(b, NORMS_REPLIES, 4);
    expect(b.clipNorm).toBe(a.clipNorm);
    expect(() => adaptive({ mode: 'distributed' }).fromJSON(a.toJSON())).toThrow(/this strategy is "dp-adaptive-distributed\(fedavg\)"/);
  });

  it('keeps the clip when the round yields nothing', () => {
    const strategy = withAdaptiveClipping(fedAvg(), { noiseMultiplier: 0, expectedClients: 4, minReplies: 5 });
    expect(run(strategy, NORMS_REPLIES, 1)).toBeNull();
    expect(strategy.clipNorm).toBe(0.1);
    expect(strategy.lastRound).toBeNull();
  });

  it('validates its options', () => {
    expect(() => adaptive({ targetQuantile: 1.5 })).toThrow(/targetQuantile must be in \[0, 1\]/);
    expect(() => adaptive({ clipLearningRate: 0 })).toThrow(/clipLearningRate/);
    expect(() => adaptive({ initialClipNorm: -1 })).toThrow(/initialClipNorm/);
    expect(() => adaptive({ mode: 'local' as never })).toThrow(/mode must be 'central' or 'distributed'/);
    expect(() => adaptive({ clippedCountStddev: -1 })).toThrow(/clippedCountStddev/);
  });
});
