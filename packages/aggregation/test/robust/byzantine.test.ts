/**
 * The point of the robust strategies, as a property: with f Byzantine clients among n
 * sending huge or sign-flipped, scaled updates, every robust strategy stays close to the
 * honest clients' mean while FedAvg is dragged away. Honest updates are a common direction
 * μ (norm ~1.3) plus independent noise of ~0.15 in norm; tolerances are stated per strategy:
 * the selection rules (Krum, Bulyan) land within a few noise norms, coordinate-wise rules
 * within a noise norm, norm bounding within its proven f·(M + ‖μ‖)/n.
 */
import { seededRandomSource, shuffled, type RandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { fedAvg } from '../../src/fedavg.js';
import { bulyan } from '../../src/robust/bulyan.js';
import { fedMedian } from '../../src/robust/fedmedian.js';
import { fedTrimmedAvg } from '../../src/robust/fedtrimmedavg.js';
import { krum, multiKrum } from '../../src/robust/krum.js';
import { l2NormOf, withNormBound } from '../../src/robust/norm-bound.js';
import type { Strategy, TrainReply } from '../../src/strategy.js';
import { runRound } from '../server-opt-harness.js';

const P = 257;
const HONEST = 20;
const F = 2; // 10 % of 22 clients
const NOISE = 0.01; // per coordinate, uniform in ±NOISE: noise norm ≈ 0.01·√(257/3) ≈ 0.093

const uniform = (random: RandomSource, scale: number): number => (random.nextFloat() * 2 - 1) * scale;

type Attack = 'huge' | 'sign-flip';

function round(seed: number, attack: Attack): { replies: TrainReply[]; honestMean: Float32Array; muNorm: number } {
  const random = seededRandomSource(seed);
  const mu = Float32Array.from({ length: P }, () => uniform(random, 0.15));
  const honest = Array.from({ length: HONEST }, () => mu.map((m) => m + uniform(random, NOISE)));
  const honestMean = mu.map((_, i) => honest.reduce((s, u) => s + u[i]!, 0) / HONEST);
  // 'huge': 1e6 in every coordinate; 'sign-flip': −10·μ, the classic scaled reversal. Attackers
  // also claim many examples, which only weighted strategies listen to.
  const bad = Array.from({ length: F }, () => (attack === 'huge' ? new Float32Array(P).fill(1e6) : mu.map((m) => -10 * m)));
  const replies: TrainReply[] = [
    ...honest.map((update, k) => ({ clientId: `honest-${k}`, numExamples: 100, update, metrics: {} })),
    ...bad.map((update, k) => ({ clientId: `byzantine-${k}`, numExamples: 10_000, update, metrics: {} })),
  ];
  return { replies: shuffled(random, replies), honestMean, muNorm: l2NormOf(mu) };
}

function errorOf(strategy: Strategy, seed: number, attack: Attack): { error: number; muNorm: number } {
  const { replies, honestMean, muNorm } = round(seed, attack);
  const weights = runRound(strategy, 1, new Float32Array(P), replies);
  return { error: l2NormOf(weights.map((w, i) => w - honestMean[i]!)), muNorm };
}

const MAX_NORM = 2; // above every honest update's norm (~1.4), far below the attackers'
const CASES: [string, () => Strategy, number][] = [
  // Measured errors (3 seeds, both attacks): median 0.023–0.025, trimmed mean 0.016, Krum
  // 0.084–0.087 (one honest update: its own noise), Multi-Krum 0.020–0.022, Bulyan 0.026–0.027.
  ['fedMedian', () => fedMedian(), 0.05],
  ['fedTrimmedAvg β = 0.15', () => fedTrimmedAvg({ beta: 0.15 }), 0.05],
  ['krum f = 2', () => krum({ numMaliciousClients: F }), 0.15],
  ['multiKrum f = 2, m = 10', () => multiKrum({ numMaliciousClients: F, numClientsToKeep: 10 }), 0.05],
  ['bulyan f = 2', () => bulyan({ numMaliciousClients: F }), 0.06],
  ['median, kernel js', () => fedMedian({ kernel: 'js' }), 0.05],
];

describe.each(['huge', 'sign-flip'] as const)('with %s updates from 2 of 22 clients', (attack) => {
  it.each(CASES)('%s stays within its tolerance of the honest mean', (_name, make, tolerance) => {
    for (const seed of [1, 2, 3]) {
      const { error } = errorOf(make(), seed, attack);
      expect(error, `seed ${seed}`).toBeLessThan(tolerance);
    }
  });

  it('norm bounding around FedAvg stays within f·(M + ‖honest‖)/n', () => {
    for (const seed of [1, 2, 3]) {
      const { error, muNorm } = errorOf(withNormBound(fedAvg(), { maxNorm: MAX_NORM }), seed, attack);
      // Each attacker moves an (example-weighted) mean by at most its weight share times
      // (M + ‖honest‖); the attackers claim 10,000 examples each against 20 × 100.
      const share = (F * 10_000) / (F * 10_000 + HONEST * 100);
      expect(error).toBeLessThanOrEqual(share * (MAX_NORM + muNorm + 0.2));
    }
  });

  it('FedAvg is dragged far away (the contrast)', () => {
    for (const seed of [1, 2, 3]) {
      const { error, muNorm } = errorOf(fedAvg(), seed, attack);
      expect(error).toBeGreaterThan(5 * muNorm);
    }
  });
});
