/**
 * The arithmetic of adaptive clipping (Andrew, Thakkar, McMahan & Ramaswamy, "Differentially
 * Private Learning with Adaptive Clipping", NeurIPS 2021, arXiv:1905.03871), kept apart
 * from the strategy so each rule can be checked by hand.
 *
 * Each round, client k reports b_k = 1 when ‖Δ_k‖ ≤ S (else 0). The server releases a
 * noised fraction b̄ and moves S geometrically towards the target quantile γ:
 * S ← S·exp(−η·(b̄ − γ)). As in tensorflow_privacy's QuantileEstimatorQuery, the bits are
 * summed centred, Σ(b_k − ½), so one client moves the sum by at most ½; with noise σ_b the
 * count query then has noise multiplier 2σ_b, and composing it with the update query
 * (noise multiplier z) is a Gaussian mechanism with z_total⁻² = z⁻² + (2σ_b)⁻². Solving for
 * z gives the update noise that keeps the total at the budgeted z_total.
 */
import { assertInClosedRange, assertNonNegativeFinite, assertPositiveFinite } from '../validate.js';

/** Defaults shared by TFF's `gaussian_adaptive` and Flower (REFERENCE §2). */
export const ADAPTIVE_CLIPPING_DEFAULTS = Object.freeze({
  initialClipNorm: 0.1,
  targetQuantile: 0.5,
  clipLearningRate: 0.2,
  /** σ_b = m/20, i.e. 0.05 per expected client. */
  clippedCountStddevPerClient: 0.05,
});

export interface AdaptiveNoiseSplit {
  /** z for the noise on the update sum, ≥ z_total. */
  updateNoiseMultiplier: number;
  /** σ_b, the stddev of the noise on the (centred) count of unclipped clients. */
  clippedCountStddev: number;
}

/**
 * Splits a total noise multiplier between the update and the clipped count:
 * z = (z_total⁻² − (2σ_b)⁻²)^(−1/2) with σ_b = m/20 unless given. With z_total = 0 there
 * is no privacy to keep and both are 0 (unless σ_b is given), as in TFF.
 *
 * Throws `RangeError` when z_total ≥ 2σ_b: the count alone would spend the whole budget.
 *
 * @example
 * adaptiveNoiseSplit({ noiseMultiplier: 1, expectedClients: 100 });
 * // → { updateNoiseMultiplier: 1.00504, clippedCountStddev: 5 }
 */
export function adaptiveNoiseSplit(input: {
  noiseMultiplier: number;
  expectedClients: number;
  clippedCountStddev?: number;
}): AdaptiveNoiseSplit {
  const { noiseMultiplier, expectedClients } = input;
  assertNonNegativeFinite('noiseMultiplier', noiseMultiplier);
  assertPositiveFinite('expectedClients', expectedClients);
  if (input.clippedCountStddev !== undefined) assertNonNegativeFinite('clippedCountStddev', input.clippedCountStddev);
  if (noiseMultiplier === 0) return { updateNoiseMultiplier: 0, clippedCountStddev: input.clippedCountStddev ?? 0 };
  const sigmaB = input.clippedCountStddev ?? ADAPTIVE_CLIPPING_DEFAULTS.clippedCountStddevPerClient * expectedClients;
  if (noiseMultiplier >= 2 * sigmaB) {
    throw new RangeError(
      `noiseMultiplier ${noiseMultiplier} must be below 2·clippedCountStddev = ${2 * sigmaB} ` +
        `(clippedCountStddev defaults to expectedClients/20): raise clippedCountStddev or expectedClients, or lower noiseMultiplier`,
    );
  }
  return { updateNoiseMultiplier: (noiseMultiplier ** -2 - (2 * sigmaB) ** -2) ** -0.5, clippedCountStddev: sigmaB };
}

/**
 * The noise multiplier of the update query and the count query together: the inverse of
 * {@link adaptiveNoiseSplit}, (z⁻² + (2σ_b)⁻²)^(−1/2). 0 when either is 0 (that query
 * releases its value exactly).
 */
export function combinedNoiseMultiplier(updateNoiseMultiplier: number, clippedCountStddev: number): number {
  assertNonNegativeFinite('updateNoiseMultiplier', updateNoiseMultiplier);
  assertNonNegativeFinite('clippedCountStddev', clippedCountStddev);
  if (updateNoiseMultiplier === 0 || clippedCountStddev === 0) return 0;
  return (updateNoiseMultiplier ** -2 + (2 * clippedCountStddev) ** -2) ** -0.5;
}

/**
 * b̄ = clamp(½ + (Σ_k (b_k − ½) + N(0, σ_b²)) / m, 0, 1) from the exact count, the number
 * of replies n and one standard normal draw. With n = m this is (Σ b_k + noise)/m, the
 * paper's estimate; with a fixed denominator m, a missing client counts as ½ (neither
 * side of the quantile). Clamping is post-processing and bounds each step of S to a
 * factor exp(η·max(γ, 1 − γ)).
 */
export function noisedUnclippedFraction(input: {
  unclippedCount: number;
  replies: number;
  expectedClients: number;
  clippedCountStddev: number;
  standardNormal: number;
}): number {
  const { unclippedCount, replies, expectedClients, clippedCountStddev, standardNormal } = input;
  const centred = unclippedCount - replies / 2 + clippedCountStddev * standardNormal;
  return Math.min(1, Math.max(0, 0.5 + centred / expectedClients));
}

/**
 * The geometric update S ← S·exp(−η·(b̄ − γ)): too many clients under S (b̄ > γ) shrinks S,
 * too few grows it. The result stays a finite number > 0.
 *
 * @example
 * nextClipNorm(0.1, 1, { targetQuantile: 0.5, clipLearningRate: 0.2 }); // 0.1·e^(−0.1)
 */
export function nextClipNorm(
  clipNorm: number,
  unclippedFraction: number,
  rule: { targetQuantile: number; clipLearningRate: number },
): number {
  assertPositiveFinite('clipNorm', clipNorm);
  assertInClosedRange('unclippedFraction', unclippedFraction, 0, 1);
  const next = clipNorm * Math.exp(-rule.clipLearningRate * (unclippedFraction - rule.targetQuantile));
  // Thousands of one-sided steps could reach 0 or ∞, which no clip can use: stay representable.
  return Math.min(Number.MAX_VALUE, Math.max(Number.MIN_VALUE, next));
}
