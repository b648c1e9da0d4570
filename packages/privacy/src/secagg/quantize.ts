/**
 * Stochastic quantization of a clipped, example-weighted update into integers that masks can
 * hide (Flower SecAgg+'s scheme, REFERENCE §3). A client uploads `[q(w), q(w·Δ)₁ … q(w·Δ)ₙ]`:
 * its quantized relative weight, then its update scaled by that weight and quantized; the sum
 * of those vectors is all the server needs for the weighted mean Σ wᵢΔᵢ / Σ wᵢ.
 *
 * - Weight: w is capped at `maxWeight`, and r = round(w / maxWeight · (L − 1)) / (L − 1) is
 *   the weight actually used, so the mean is exactly weighted by what was uploaded.
 * - Values: x = r·Δⱼ must lie in [−c, c] (c = `clippingRange`); y = (x + c)·(L − 1)/(2c) in
 *   [0, L − 1] is rounded down or up with probability equal to its fraction, so E[q] = y
 *   (unbiased). L = `quantizationRange`.
 * - Sums: m clients give at most m·(L − 1), which must stay below the modulus 2^k, so the sum
 *   never wraps once masks cancel.
 */
import type { RandomSource } from '@fedkit/protocol';
import { secAggError } from './errors.js';

export interface QuantizationParams {
  /** Values are clipped to [−clippingRange, clippingRange] before quantization. @default 8 */
  readonly clippingRange: number;
  /** Quantized values are integers in [0, quantizationRange − 1]. @default 2 ** 22 */
  readonly quantizationRange: number;
  /** Masks and sums live in integers mod 2^modulusBits (1 … 32). @default 32 */
  readonly modulusBits: number;
  /** Example weights above this are capped to it. @default 1000 */
  readonly maxWeight: number;
}

/** Flower SecAgg+'s defaults (REFERENCE §3). */
export const DEFAULT_QUANTIZATION: Readonly<QuantizationParams> = Object.freeze({
  clippingRange: 8,
  quantizationRange: 2 ** 22,
  modulusBits: 32,
  maxWeight: 1000,
});

/** What to do with a scaled value outside [−clippingRange, clippingRange]. */
export type OutOfRangePolicy = 'reject' | 'clip';

/**
 * Checks the parameters, and that `maxClients` quantized values sum below the modulus.
 * Throws `FedkitError('config-invalid')` naming the first bad field.
 */
export function validateQuantization(params: QuantizationParams, maxClients: number): void {
  const { clippingRange, quantizationRange, modulusBits, maxWeight } = params;
  const bad = (message: string): never => {
    throw secAggError('config-invalid', message);
  };
  if (!(Number.isFinite(clippingRange) && clippingRange > 0)) bad(`clippingRange must be a finite number > 0, got ${clippingRange}`);
  if (!(Number.isFinite(maxWeight) && maxWeight > 0)) bad(`maxWeight must be a finite number > 0, got ${maxWeight}`);
  if (!(Number.isInteger(modulusBits) && modulusBits >= 1 && modulusBits <= 32)) bad(`modulusBits must be an integer in [1, 32], got ${modulusBits}`);
  if (!(Number.isInteger(quantizationRange) && quantizationRange >= 2 && quantizationRange < 2 ** modulusBits)) {
    bad(`quantizationRange must be an integer in [2, 2^${modulusBits}) (below the modulus), got ${quantizationRange}`);
  }
  if (!(Number.isInteger(maxClients) && maxClients >= 1)) bad(`the client count must be a positive integer, got ${maxClients}`);
  if (maxClients * (quantizationRange - 1) >= 2 ** modulusBits) {
    bad(`${maxClients} clients × (quantizationRange − 1 = ${quantizationRange - 1}) overflows the modulus 2^${modulusBits}: lower quantizationRange or raise modulusBits`);
  }
}

/** A client's weight as uploaded: the quantized integer, the relative weight r it stands for, and whether it was capped. */
export interface QuantizedWeight {
  readonly quantized: number;
  readonly relative: number;
  readonly capped: boolean;
}

/** Caps `weight` at `maxWeight` and quantizes w / maxWeight to [0, L − 1]. */
export function quantizeWeight(weight: number, params: QuantizationParams): QuantizedWeight {
  if (typeof weight !== 'number') throw new TypeError(`weight must be a number, got ${typeof weight}`);
  if (!(Number.isFinite(weight) && weight >= 0)) throw new RangeError(`weight must be a finite number ≥ 0, got ${weight}`);
  const capped = weight > params.maxWeight;
  const top = params.quantizationRange - 1;
  const quantized = Math.round((Math.min(weight, params.maxWeight) / params.maxWeight) * top);
  return { quantized, relative: quantized / top, capped };
}

/**
 * Writes the stochastic quantization of `multiplier · values` into `out` from `outOffset`.
 * A scaled value outside [−c, c] throws `FedkitError('secagg-value-out-of-range')` (policy
 * `'reject'`, the default: the update should have been clipped already) or is clipped; NaN
 * and ±∞ throw `FedkitError('update-not-finite')`.
 */
export function stochasticQuantize(
  values: Float32Array,
  multiplier: number,
  params: QuantizationParams,
  random: RandomSource,
  out: Uint32Array,
  outOffset = 0,
  policy: OutOfRangePolicy = 'reject',
): void {
  if (!(values instanceof Float32Array)) throw new TypeError('values must be a Float32Array');
  if (outOffset + values.length > out.length) throw new RangeError(`out has ${out.length} words, needs ${outOffset + values.length}`);
  const c = params.clippingRange;
  const top = params.quantizationRange - 1;
  const scale = top / (2 * c);
  const noise = new Uint32Array(Math.min(values.length, 16384));
  let next = noise.length;
  for (let i = 0; i < values.length; i++) {
    let x = values[i]! * multiplier;
    if (!(x >= -c && x <= c)) {
      if (!Number.isFinite(x)) throw secAggError('update-not-finite', `update has value ${values[i]} at index ${i}`);
      if (policy === 'reject') {
        throw secAggError('secagg-value-out-of-range', `update value ${x} at index ${i} is outside the clipping range [−${c}, ${c}]`);
      }
      x = x > c ? c : -c;
    }
    if (next === noise.length) {
      random.fillBytes(new Uint8Array(noise.buffer));
      next = 0;
    }
    const y = Math.min((x + c) * scale, top);
    const floor = Math.floor(y);
    // P(round up) = ceil(frac · 2^32) / 2^32: unbiased to within 2^−32 of a step.
    out[outOffset + i] = floor + (noise[next++]! < (y - floor) * 4294967296 ? 1 : 0);
  }
}

/**
 * The vector a client masks and uploads: `[q(w), q(r·Δ)…]`, length `update.length + 1`.
 *
 * @example
 * const { words, weight } = encodeWeightedUpdate(clippedDelta, numExamples, DEFAULT_QUANTIZATION, cryptoRandomSource());
 */
export function encodeWeightedUpdate(
  update: Float32Array,
  weight: number,
  params: QuantizationParams,
  random: RandomSource,
  policy: OutOfRangePolicy = 'reject',
): { words: Uint32Array; weight: QuantizedWeight } {
  const quantizedWeight = quantizeWeight(weight, params);
  const words = new Uint32Array(update.length + 1);
  words[0] = quantizedWeight.quantized;
  stochasticQuantize(update, quantizedWeight.relative, params, random, words, 1, policy);
  return { words, weight: quantizedWeight };
}

/** The server's view of an unmasked sum. */
export interface DecodedSum {
  /** Σ rᵢΔᵢ / Σ rᵢ over the contributing clients. */
  readonly weightedMean: Float32Array;
  /** Σ of the (capped, quantized) weights, in the units of `maxWeight` (examples). */
  readonly totalWeight: number;
}

/**
 * Turns the unmasked sum of `contributors` encoded vectors back into the weighted mean.
 * Every word must be ≤ contributors·(L − 1); anything above means unmasking went wrong or a
 * client sent out-of-range values: `FedkitError('secagg-value-out-of-range')`. A total weight
 * of zero throws `FedkitError('data-invalid')`.
 */
export function decodeWeightedSum(sum: Uint32Array, contributors: number, params: QuantizationParams): DecodedSum {
  if (sum.length < 1) throw new RangeError('sum must hold at least the weight word');
  const c = params.clippingRange;
  const top = params.quantizationRange - 1;
  const limit = contributors * top;
  for (let j = 0; j < sum.length; j++) {
    if (sum[j]! > limit) {
      throw secAggError('secagg-value-out-of-range', `unmasked sum word ${j} is ${sum[j]}, above ${contributors} × ${top}: the masks did not cancel or a client sent values out of range`);
    }
  }
  const weightSum = sum[0]! / top;
  if (weightSum === 0) throw secAggError('data-invalid', 'the total weight of the contributing clients is zero');
  const step = (2 * c) / top;
  const offset = contributors * c;
  const weightedMean = new Float32Array(sum.length - 1);
  for (let j = 1; j < sum.length; j++) weightedMean[j - 1] = (sum[j]! * step - offset) / weightSum;
  return { weightedMean, totalWeight: weightSum * params.maxWeight };
}
