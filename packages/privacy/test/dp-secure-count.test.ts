/**
 * Adaptive clipping under secure aggregation: the clip indicator as the masked vector's
 * extra coordinate (appended by the client, split off by the server), its survival through
 * SecAgg+ quantization and masking, the configuration check on the quantization range, and
 * the distributed adaptive strategy folding a secure sum (the noise statistics are in
 * dp-noise.test.ts).
 */
import { fedAvg } from '@fedkit/aggregation';
import { seededRandomSource, type WeightsLayout } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { withAdaptiveClipping } from '../src/dp/adaptive-clipping.js';
import { combinedNoiseMultiplier } from '../src/dp/adaptive-math.js';
import { distributedDpMod } from '../src/dp/client-mods.js';
import { withCentralDp, withDistributedDp } from '../src/dp/fixed-clipping.js';
import { applyMods } from '../src/dp/mods.js';
import {
  appendCountCoordinate,
  assertCountCoordinateFits,
  secureSumVector,
  splitCountCoordinate,
  unitWeightRange,
} from '../src/dp/secure-count.js';
import { DEFAULT_QUANTIZATION, quantizeWeight } from '../src/secagg/quantize.js';
import { runRound } from './secagg-harness.js';

const LAYOUT: WeightsLayout = [{ name: 'w', shape: [4] }];
const GLOBAL = new Float32Array(4);
const BASE = { epochs: 1, batchSize: 10, learningRate: 0.1 };

describe('the count coordinate', () => {
  it('is appended after the update and split off again, without touching the input', () => {
    const update = Float32Array.of(0.5, -0.25, 0.125);
    const vector = appendCountCoordinate(update, 0.75);
    expect(Array.from(vector)).toEqual([0.5, -0.25, 0.125, 0.75]);
    expect(Array.from(update)).toEqual([0.5, -0.25, 0.125]);
    const { update: back, count } = splitCountCoordinate(vector);
    expect(Array.from(back)).toEqual([0.5, -0.25, 0.125]);
    expect(count).toBe(0.75);
  });

  it('refuses a non-finite share and a vector too short to hold the coordinate', () => {
    expect(() => appendCountCoordinate(new Float32Array(2), Number.NaN)).toThrow(RangeError);
    expect(() => appendCountCoordinate([1, 2] as never, 1)).toThrow(TypeError);
    expect(() => splitCountCoordinate(new Float32Array(1))).toThrow(/at least 2 entries/);
  });

  it('a client masks the update plus its share only when the train config asks (distributed + clippedCountStddev)', async () => {
    const outcome = { update: Float32Array.of(3, 4), numExamples: 1, metrics: {}, noisedUnclipped: 0.9 };
    const asked = { ...BASE, dpMode: 'distributed', clippedCountStddev: 1 };
    expect(Array.from(secureSumVector(1, asked, outcome))).toEqual([3, 4, Math.fround(0.9)]);
    expect(secureSumVector(1, { ...BASE, dpMode: 'distributed' }, outcome)).toBe(outcome.update);
    expect(secureSumVector(1, BASE, outcome)).toBe(outcome.update);
    expect(() => secureSumVector(7, asked, { ...outcome, noisedUnclipped: undefined })).toThrow(
      expect.objectContaining({ code: 'config-invalid', message: expect.stringMatching(/round 7: .*"clippedCountStddev"/) }),
    );
  });

  it('distributedDpMod sets the exact bit when σ_b = 0: 1 within S, 0 above it', async () => {
    const config = { ...BASE, dpMode: 'distributed', clipNorm: 1, noiseMultiplier: 0, expectedClients: 4, clippedCountStddev: 0 };
    const run = (update: number[]) =>
      applyMods(() => ({ update: Float32Array.from(update), numExamples: 1, metrics: {} }), [distributedDpMod({ random: seededRandomSource(1) })])({ round: 1, config }, { clientId: 'c' });
    expect((await run([0.3, 0.4])).noisedUnclipped).toBe(1);
    expect((await run([3, 4])).noisedUnclipped).toBe(0);
    // Without the key no share is drawn (fixed clipping); a bad σ_b from the server is refused.
    const { clippedCountStddev: _drop, ...fixed } = config;
    const once = (c: Record<string, unknown>, round = 1) =>
      applyMods(() => ({ update: Float32Array.of(1), numExamples: 1, metrics: {} }), [distributedDpMod()])({ round, config: c as typeof config }, { clientId: 'c' });
    expect((await once(fixed)).noisedUnclipped).toBeUndefined();
    await expect(once({ ...config, clippedCountStddev: -1 }, 2)).rejects.toMatchObject({ code: 'config-invalid', message: expect.stringMatching(/round 2: .*"clippedCountStddev"/) });
  });
});

describe('quantization of the count coordinate', () => {
  it('Flower\'s defaults keep a weight-1 value within ±8000 (clippingRange / r₁)', () => {
    const r1 = quantizeWeight(1, DEFAULT_QUANTIZATION).relative;
    expect(unitWeightRange()).toBeCloseTo(8 / r1, 9);
    expect(unitWeightRange()).toBeGreaterThan(7999);
    expect(unitWeightRange({ maxWeight: 1, clippingRange: 2 })).toBe(2);
  });

  it('accepts the defaults and refuses a range that cannot hold 1 + 8·σ_b/√m, naming the field to change', () => {
    expect(() => assertCountCoordinateFits({}, { clippedCountStddev: 5, expectedClients: 100 })).not.toThrow();
    // maxWeight 1: r₁ = 1, so clippingRange itself is the range; 1 + 8·0.5 = 5 is needed.
    expect(() => assertCountCoordinateFits({ maxWeight: 1, clippingRange: 5 }, { clippedCountStddev: 5, expectedClients: 100 })).not.toThrow();
    expect(() => assertCountCoordinateFits({ maxWeight: 1, clippingRange: 4.9 }, { clippedCountStddev: 5, expectedClients: 100 })).toThrow(/^clippingRange 4.9 .* needs ±5.000/);
    expect(() => assertCountCoordinateFits({ maxWeight: 1e9 }, { clippedCountStddev: 5, expectedClients: 100 })).toThrow(/^maxWeight 1000000000 makes the weight 1 .* quantize to 0/);
  });

  it('survives SecAgg+ masking, a drop-out after masking and unmasking: Σ shares within n·step/r₁ of the truth', async () => {
    const P = 50;
    const shares = [1.3, -0.4, 0.2, 1.9, 0.95, 0.01, 1.0];
    const outcome = await runRound({
      clients: shares.length,
      threshold: 4,
      vectorLength: P + 1,
      dropAt: { unmask: [2] },
      input: (id, random) => {
        const update = Float32Array.from({ length: P }, () => (random.nextFloat() - 0.5) * 0.2);
        return { update: appendCountCoordinate(update, shares[id - 1]!), weight: 1 };
      },
    });
    const result = outcome.result!;
    expect(result.contributors).toHaveLength(shares.length);
    const n = result.contributors.length;
    const { update, count } = splitCountCoordinate(result.weightedMean);
    expect(update).toHaveLength(P);
    const r1 = quantizeWeight(1, DEFAULT_QUANTIZATION).relative;
    const step = (2 * DEFAULT_QUANTIZATION.clippingRange) / (DEFAULT_QUANTIZATION.quantizationRange - 1) / r1;
    const truth = shares.reduce((a, b) => a + Math.fround(b), 0);
    expect(Math.abs(count * n - truth)).toBeLessThanOrEqual(n * step + 1e-5);
  });
});

describe('the distributed adaptive strategy folds a secure sum', () => {
  const make = (options: { noiseMultiplier?: number; clippedCountStddev?: number } = {}) =>
    withAdaptiveClipping(fedAvg(), { mode: 'distributed', noiseMultiplier: 0, expectedClients: 4, initialClipNorm: 1, random: seededRandomSource(5), ...options });

  it('announces σ_b with S, z and m, and one extra coordinate; fixed and central strategies add none', () => {
    const strategy = make({ noiseMultiplier: 1, clippedCountStddev: 2 });
    expect(strategy.secureSumExtraCoordinates).toBe(1);
    expect(strategy.configureTrain(1, BASE)).toMatchObject({ dpMode: 'distributed', clipNorm: 1, expectedClients: 4, clippedCountStddev: 2 });
    expect(withDistributedDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 1, expectedClients: 4 }).secureSumExtraCoordinates).toBe(0);
    expect(withAdaptiveClipping(fedAvg(), { noiseMultiplier: 1, expectedClients: 100 }).secureSumExtraCoordinates).toBe(0);
    expect(withAdaptiveClipping(fedAvg(), { noiseMultiplier: 1, expectedClients: 100 }).configureTrain(1, BASE)).not.toHaveProperty('clippedCountStddev');
  });

  it('splits off the noised count: b̄ = ½ + (Σc − n/2)/m with no server noise, the mean is Σ Δ/m, S moves', () => {
    const strategy = make({ noiseMultiplier: 0.5, clippedCountStddev: 1 });
    const acc = strategy.beginTrain(1, GLOBAL, LAYOUT);
    // 4 contributors, mean update (0.1, 0, 0, −0.2), mean count share 0.8 → Σc = 3.2.
    strategy.foldSecureSum(acc, { mean: Float32Array.of(0.1, 0, 0, -0.2, 0.8), contributors: 4 });
    const result = strategy.aggregateTrain(1, acc, [])!;
    expect(result.weights[0]).toBeCloseTo(0.1, 6);
    expect(result.weights[3]).toBeCloseTo(-0.2, 6);
    const fraction = 0.5 + (Math.fround(0.8) * 4 - 2) / 4;
    expect(result.metrics.dpUnclippedFraction).toBeCloseTo(fraction, 6);
    expect(result.metrics.numClients).toBe(4);
    expect(strategy.clipNorm).toBeCloseTo(Math.exp(-0.2 * (fraction - 0.5)), 6);
  });

  it('charges what central adaptive clipping charges (z_total) when all m contribute, z_total·√(n/m) with n < m', () => {
    const central = withAdaptiveClipping(fedAvg(), { noiseMultiplier: 0.8, expectedClients: 4, clippedCountStddev: 1, initialClipNorm: 1 });
    const strategy = make({ noiseMultiplier: 0.8, clippedCountStddev: 1 });
    expect(strategy.privacyFacts({ availableClients: 40 })).toEqual({ ...central.privacyFacts({ availableClients: 40 }), mode: 'distributed' });
    expect(strategy.privacyFacts({ availableClients: 40 }).noiseMultiplier).toBeCloseTo(0.8, 12);
    const acc = strategy.beginTrain(1, GLOBAL, LAYOUT);
    strategy.foldSecureSum(acc, { mean: Float32Array.of(0, 0, 0, 0, 1), contributors: 3 });
    strategy.aggregateTrain(1, acc, []);
    const z = (0.8 ** -2 - 2 ** -2) ** -0.5;
    expect(strategy.lastRound!.noiseMultiplier).toBeCloseTo(combinedNoiseMultiplier(z * Math.sqrt(3 / 4), Math.sqrt(3 / 4)), 12);
    expect(strategy.lastRound!.noiseMultiplier).toBeCloseTo(0.8 * Math.sqrt(3 / 4), 12);
  });

  it('refuses a sum of the wrong length, a second fold, replies after it, and strategies that clip on the server', () => {
    const strategy = make();
    const acc = strategy.beginTrain(1, GLOBAL, LAYOUT);
    expect(() => strategy.foldSecureSum(acc, { mean: new Float32Array(4), contributors: 2 })).toThrow(expect.objectContaining({ code: 'update-size-mismatch', message: expect.stringMatching(/4 parameters \+ the clipped count/) }));
    expect(() => strategy.foldSecureSum(acc, { mean: Float32Array.of(0, 0, 0, Number.NaN, 1), contributors: 2 })).toThrow(expect.objectContaining({ code: 'update-not-finite' }));
    expect(() => strategy.foldSecureSum(acc, { mean: new Float32Array(5), contributors: 0 })).toThrow(/contributors must be an integer ≥ 1/);
    strategy.foldSecureSum(acc, { mean: new Float32Array(5), contributors: 2 });
    expect(() => strategy.foldSecureSum(acc, { mean: new Float32Array(5), contributors: 2 })).toThrow(/must be its only one/);
    expect(() => acc.add({ clientId: 'x', numExamples: 1, update: new Float32Array(4), metrics: { dpUnclipped: 1 } })).toThrow(/already holds a secure sum/);
    expect(() => strategy.foldSecureSum(make().beginTrain(1, GLOBAL, LAYOUT), { mean: new Float32Array(5), contributors: 1 })).toThrow(/was not created by this/);
    const central = withCentralDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 1, expectedClients: 4 });
    expect(() => central.foldSecureSum(central.beginTrain(1, GLOBAL, LAYOUT), { mean: new Float32Array(4), contributors: 1 })).toThrow(/cannot fold a secure sum/);
  });

  it('a fixed-clip distributed strategy folds a secure sum without a count coordinate', () => {
    const strategy = withDistributedDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 0, expectedClients: 2 });
    const acc = strategy.beginTrain(1, GLOBAL, LAYOUT);
    strategy.foldSecureSum(acc, { mean: Float32Array.of(0.5, 0.5, 0, 0), contributors: 2 });
    expect(Array.from(strategy.aggregateTrain(1, acc, [])!.weights)).toEqual([0.5, 0.5, 0, 0]);
  });
});
