/**
 * The added noise, tested as statistics (STYLE §17): large samples from seeded sources,
 * standardized by the stddev each mode promises, then checked for mean 0 (within 4
 * standard errors, SE = 1/√n), variance 1 (within 4 SEs, SE = √(2/(n−1))) and a
 * Kolmogorov–Smirnov distance to N(0, 1) below the α = 0.001 critical value 1.949/√n.
 */
import { fedAvg, type TrainReply } from '@fedkit/aggregation';
import { seededRandomSource, type WeightsLayout } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { logErfc } from '../src/accountant/log-math.js';
import { distributedDpMod, localDpMod } from '../src/dp/client-mods.js';
import { withCentralDp, withDistributedDp } from '../src/dp/fixed-clipping.js';
import { applyMods, type TrainMod } from '../src/dp/mods.js';
import { noisedUnclippedShare } from '../src/dp/secure-count.js';
import { withAdaptiveClipping } from '../src/dp/adaptive-clipping.js';

const normalCdf = (x: number): number => 0.5 * Math.exp(logErfc(-x / Math.SQRT2));

/** Mean, variance and KS distance to N(0, 1) of `(values − offset) / stddev`. */
function standardized(values: Float32Array, offset: number, stddev: number) {
  const z = Float64Array.from(values, (v) => (v - offset) / stddev);
  const n = z.length;
  const mean = z.reduce((a, b) => a + b, 0) / n;
  const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  const sorted = z.slice().sort();
  let ks = 0;
  for (let i = 0; i < n; i++) {
    const f = normalCdf(sorted[i]!);
    ks = Math.max(ks, (i + 1) / n - f, f - i / n);
  }
  return { n, mean, variance, ks };
}

function expectStandardNormal(values: Float32Array, offset: number, stddev: number): void {
  const { n, mean, variance, ks } = standardized(values, offset, stddev);
  expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(n));
  expect(Math.abs(variance - 1)).toBeLessThan(4 * Math.sqrt(2 / (n - 1)));
  expect(ks).toBeLessThan(1.949 / Math.sqrt(n));
}

const layout = (d: number): WeightsLayout => [{ name: 'w', shape: [d] }];

describe('central DP: N(0, (z·S)²) on the sum, divided by m', () => {
  it('4 of m = 10 clients, z = 1.3, S = 0.7, 100,000 coordinates: the mean update ± noise with stddev z·S/m = 0.091', () => {
    const d = 100_000;
    const update = new Float32Array(d).fill(1e-4); // norm 0.0316 < S: not clipped
    const strategy = withCentralDp(fedAvg(), { clipNorm: 0.7, noiseMultiplier: 1.3, expectedClients: 10, random: seededRandomSource(11) });
    const acc = strategy.beginTrain(1, new Float32Array(d), layout(d));
    for (let k = 0; k < 4; k++) acc.add({ clientId: `c${k}`, numExamples: 10, update, metrics: {} });
    const result = strategy.aggregateTrain(1, acc, [])!;
    // Fixed denominator: the signal is 4·1e−4/10 and the noise stddev does not depend on n.
    expectStandardNormal(result.weights, 4e-5, (1.3 * 0.7) / 10);
    expect(result.metrics.dpNoiseStddev).toBeCloseTo(0.091, 15);
  });
});

/** One client's outcome through `mods`, from a zero update. */
async function privatized(mod: TrainMod, d: number, config = {}): Promise<TrainReply & { noisedUnclipped?: number }> {
  const train = applyMods(() => ({ update: new Float32Array(d), numExamples: 10, metrics: {} }), [mod]);
  const outcome = await train({ round: 1, config }, { clientId: 'c' });
  return { clientId: 'c', ...outcome };
}

describe('client-side noise', () => {
  it('localDpMod adds N(0, (z·S)²): z = 1.1, S = 0.5, 100,000 coordinates, stddev 0.55', async () => {
    const out = await privatized(localDpMod({ clipNorm: 0.5, noiseMultiplier: 1.1, random: seededRandomSource(12) }), 100_000);
    expectStandardNormal(out.update, 0, 0.55);
  });

  it('distributedDpMod adds N(0, (z·S)²/m): z = 1.1, S = 0.5, m = 16, stddev 0.1375', async () => {
    const out = await privatized(distributedDpMod({ random: seededRandomSource(13) }), 100_000, { clipNorm: 0.5, noiseMultiplier: 1.1, expectedClients: 16 });
    expectStandardNormal(out.update, 0, (1.1 * 0.5) / 4);
  });

  it('m clients with distributedDpMod under withDistributedDp give the central noise on the mean: z·S/m', async () => {
    const d = 50_000;
    const m = 8;
    const strategy = withDistributedDp(fedAvg(), { clipNorm: 0.5, noiseMultiplier: 1.1, expectedClients: m });
    const config = strategy.configureTrain(1, { epochs: 1, batchSize: 10, learningRate: 0.1 })!;
    const acc = strategy.beginTrain(1, new Float32Array(d), layout(d));
    for (let k = 0; k < m; k++) acc.add(await privatized(distributedDpMod({ random: seededRandomSource(100 + k) }), d, config));
    const result = strategy.aggregateTrain(1, acc, [])!;
    expectStandardNormal(result.weights, 0, (1.1 * 0.5) / m);
    expect(result.metrics.dpNoiseStddev).toBeCloseTo((1.1 * 0.5) / m, 15);
  });

  it('with n = 3 of m = 12 replying, the noise on the mean shrinks to z·S·√(n/m)/m, as lastRound reports', async () => {
    const d = 50_000;
    const strategy = withDistributedDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 2, expectedClients: 12 });
    const config = strategy.configureTrain(1, { epochs: 1, batchSize: 10, learningRate: 0.1 })!;
    const acc = strategy.beginTrain(1, new Float32Array(d), layout(d));
    for (let k = 0; k < 3; k++) acc.add(await privatized(distributedDpMod({ random: seededRandomSource(200 + k) }), d, config));
    const result = strategy.aggregateTrain(1, acc, [])!;
    const stddev = (2 * Math.sqrt(3 / 12)) / 12;
    expect(strategy.lastRound!.noiseStddev).toBeCloseTo(stddev, 15);
    expect(strategy.lastRound!.noiseMultiplier).toBeCloseTo(1, 15);
    expectStandardNormal(result.weights, 0, stddev);
  });
});

describe('the clipped count under secure aggregation: each client adds N(0, σ_b²/m)', () => {
  it('20,000 shares with σ_b = 5, m = 100 are b + N(0, 0.25), for b = 1 and b = 0', () => {
    const random = seededRandomSource(31);
    for (const unclipped of [true, false]) {
      const shares = Float32Array.from({ length: 20_000 }, () => noisedUnclippedShare({ unclipped, clippedCountStddev: 5, expectedClients: 100, random }));
      expectStandardNormal(shares, unclipped ? 1 : 0, 5 / Math.sqrt(100));
    }
  });

  it('the sum of m = 20 clients\' shares carries N(0, σ_b²) (σ_b = m/20 = 1): 5,000 simulated rounds', () => {
    const random = seededRandomSource(32);
    const m = 20;
    const sums = Float32Array.from({ length: 5_000 }, () => {
      let sum = 0;
      for (let k = 0; k < m; k++) sum += noisedUnclippedShare({ unclipped: k < 7, clippedCountStddev: 1, expectedClients: m, random });
      return sum;
    });
    expectStandardNormal(sums, 7, 1);
  });

  it('distributedDpMod draws its share from the σ_b and m of the train config the adaptive wrapper sends', async () => {
    const strategy = withAdaptiveClipping(fedAvg(), { mode: 'distributed', noiseMultiplier: 1, expectedClients: 16, initialClipNorm: 1 });
    const config = strategy.configureTrain(1, { epochs: 1, batchSize: 10, learningRate: 0.1 })!;
    expect(config.clippedCountStddev).toBe(16 / 20);
    const mod = distributedDpMod({ random: seededRandomSource(33) });
    const shares = new Float32Array(4_000);
    for (let i = 0; i < shares.length; i++) shares[i] = (await privatized(mod, 2, config)).noisedUnclipped!;
    // A zero update is within S, so b = 1; the share's stddev is σ_b/√m = 0.8/4 = 0.2.
    expectStandardNormal(shares, 1, 0.8 / 4);
  });
});
