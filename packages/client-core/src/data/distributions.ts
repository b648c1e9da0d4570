/**
 * Continuous samplers over an injected RandomSource: standard normals, Gamma and Dirichlet.
 * Dirichlet label partitions (Hsu et al. 2019) and synthetic data need them, and the
 * platform has none; drawing them from the caller's RandomSource keeps every partition
 * reproducible from a seed. Not for privacy noise: the DP mechanisms live in @fedkit/privacy.
 */

import type { RandomSource } from '@fedkit/protocol';

/** A uniform float in (0, 1]: safe to take the logarithm of. */
function openUniform(random: RandomSource): number {
  return 1 - random.nextFloat();
}

/**
 * A standard normal N(0, 1) draw (Box–Muller; the paired sine draw is discarded so the
 * function stays stateless and a RandomSource can be shared freely).
 */
export function sampleStandardNormal(random: RandomSource): number {
  const radius = Math.sqrt(-2 * Math.log(openUniform(random)));
  return radius * Math.cos(2 * Math.PI * random.nextFloat());
}

function checkShape(shape: number): void {
  if (!Number.isFinite(shape) || shape <= 0) {
    throw new RangeError(`gamma shape must be a finite number > 0, got ${shape}`);
  }
}

/** Marsaglia–Tsang (2000) for shape ≥ 1: returns the log of a Gamma(shape, 1) draw. */
function logGammaShapeAtLeastOne(random: RandomSource, shape: number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = sampleStandardNormal(random);
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = openUniform(random);
    const x2 = x * x;
    // Cheap squeeze first, then the exact acceptance test.
    if (u < 1 - 0.0331 * x2 * x2 || Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) {
      return Math.log(d) + Math.log(v);
    }
  }
}

/**
 * The natural log of a Gamma(shape, 1) draw. For shape < 1 it uses the boost
 * `G(a) = G(a + 1) · U^(1/a)`, in log space so that tiny shapes (α = 0.001) do not
 * underflow to 0.
 */
export function sampleLogGamma(random: RandomSource, shape: number): number {
  checkShape(shape);
  if (shape >= 1) return logGammaShapeAtLeastOne(random, shape);
  return logGammaShapeAtLeastOne(random, shape + 1) + Math.log(openUniform(random)) / shape;
}

/**
 * A Gamma(shape, 1) draw (mean `shape`, variance `shape`); multiply by a scale for
 * Gamma(shape, scale). Very small shapes may round to 0: use {@link sampleLogGamma} then.
 */
export function sampleGamma(random: RandomSource, shape: number): number {
  return Math.exp(sampleLogGamma(random, shape));
}

/**
 * A draw from Dirichlet(concentrations): independent Gamma draws normalized to sum to 1,
 * computed from their logarithms so that small concentrations stay finite.
 *
 * @example
 * sampleDirichlet(random, new Array(10).fill(0.5)); // 10 proportions summing to 1
 */
export function sampleDirichlet(random: RandomSource, concentrations: readonly number[]): number[] {
  if (concentrations.length === 0) throw new RangeError('Dirichlet needs at least one concentration');
  const logs = concentrations.map((a) => sampleLogGamma(random, a));
  const max = logs.reduce((m, l) => Math.max(m, l), -Infinity);
  const weights = logs.map((l) => Math.exp(l - max));
  const total = weights.reduce((s, w) => s + w, 0);
  return weights.map((w) => w / total);
}
