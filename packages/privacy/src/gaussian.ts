/**
 * Gaussian noise for the Gaussian mechanism: the server (central DP) or each client
 * (local/distributed DP) adds N(0, stddev²) to every coordinate of a clipped sum. The
 * randomness is injected (STYLE §10): `cryptoRandomSource()` in production,
 * `seededRandomSource(seed)` only in tests and simulations.
 *
 * Sampler: Box–Muller on 53-bit uniforms. It consumes exactly two uniforms per pair of
 * normals (no rejection loop as in Marsaglia's polar method), so a seeded run is
 * reproducible draw for draw and the time taken does not depend on the values. With
 * u₁ ≥ 2⁻⁵³ the largest |z| is √(2·53·ln 2) ≈ 8.57: the tail beyond that (probability
 * ~1e−17 per draw) is cut, which no test or training run can observe.
 *
 * Caveat: this is the textbook floating-point sampler. Its low-order bits are not
 * uniform, which attacks on floating-point DP noise have exploited (Mironov 2012 for
 * Laplace); a discrete Gaussian (Canonne, Kamath & Steinke 2020) would close that gap.
 */
import type { RandomSource } from '@fedkit/protocol';
import { assertFloat32Array, assertNonNegativeFinite } from './validate.js';

/**
 * Returns a function that yields independent standard normal draws from `random`.
 *
 * @example
 * const normal = gaussianSampler(cryptoRandomSource());
 * const z = normal(); // ~ N(0, 1)
 */
export function gaussianSampler(random: RandomSource): () => number {
  if (typeof random !== 'object' || random === null || typeof random.nextFloat !== 'function') {
    throw new TypeError('random must be a RandomSource (cryptoRandomSource() or seededRandomSource(seed))');
  }
  let spare = 0;
  let hasSpare = false;
  return () => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    const u1 = 1 - random.nextFloat(); // (0, 1]: log never sees 0
    const u2 = random.nextFloat();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    spare = radius * Math.sin(angle);
    hasSpare = true;
    return radius * Math.cos(angle);
  };
}

/**
 * Returns `values` plus independent N(0, stddev²) noise on every coordinate, as a new
 * array (the input is not touched). For DP-FedAvg, `stddev = noiseMultiplier · clipNorm`
 * on the sum of clipped updates (divide by the expected client count afterwards).
 *
 * @example
 * const noisySum = addGaussianNoise(clippedSum, noiseMultiplier * clipNorm, cryptoRandomSource());
 */
export function addGaussianNoise(values: Float32Array, stddev: number, random: RandomSource): Float32Array {
  assertFloat32Array('values', values);
  assertNonNegativeFinite('stddev', stddev);
  const normal = gaussianSampler(random);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i]! + stddev * normal();
  return out;
}
