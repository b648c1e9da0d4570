/**
 * Adaptive clipping under secure aggregation (distributed DP). Andrew et al. 2021 design the
 * clipped count to be summable securely: each client's indicator b = 1[‖Δ‖ ≤ S] only ever
 * enters a sum. Here it travels as one extra coordinate of the vector a client masks, so the
 * server learns Σ b and never a single bit. Each client also adds its share N(0, σ_b²/m) of
 * the count noise, so the sum of m shares carries N(0, σ_b²), the noise the central path
 * draws itself; the server then runs the same b̄ and S updates (adaptive-math.ts).
 *
 * The masked vector (the wire contract; docs/protocol.md): `[q(w), q(r·Δ₁) … q(r·Δ_P),
 * q(r·c)]` with c = b + N(0, σ_b²/m), quantized with the same weight multiplier r and
 * clipping range as the update, so `vectorLength` is P + 1. Under distributed DP every
 * weight is 1, so r = r₁ = round((L − 1)/maxWeight)/(L − 1) and a value x survives
 * quantization when |x| ≤ clippingRange/r₁ (8000 with Flower's defaults). The indicator
 * needs |c| ≤ 1 + 8·σ_b/√m (a share beyond that has probability ~1e−15);
 * `assertCountCoordinateFits` refuses a configuration that cannot carry it. Its resolution
 * is the update's, 2·clippingRange/((L − 1)·r₁) (≈ 0.004 by default): stochastic rounding is
 * unbiased, and the rounding error it adds to the count is tiny next to σ_b.
 */
import { FedkitError, type RandomSource } from '@fedkit/protocol';
import type { ConfigValue } from '@fedkit/aggregation';
import { gaussianSampler } from '../gaussian.js';
import { DEFAULT_QUANTIZATION, quantizeWeight, type QuantizationParams } from '../secagg/quantize.js';
import { assertFloat32Array, assertNonNegativeFinite, assertPositiveFinite } from '../validate.js';
import { DP_CONFIG_KEYS } from './config-keys.js';
import type { TrainOutcome } from './mods.js';

/** Coordinates the clipped count adds to the masked vector. */
export const COUNT_COORDINATES = 1;

/** How many standard deviations of a client's count-noise share the quantization range must hold. */
const SHARE_TAIL_STDDEVS = 8;

/**
 * One client's contribution to the noised count: b + N(0, σ_b²/m), b = 1 when its update
 * was within S before clipping.
 *
 * @example
 * noisedUnclippedShare({ unclipped: true, clippedCountStddev: 5, expectedClients: 100, random }); // 1 + N(0, 0.25)
 */
export function noisedUnclippedShare(input: { unclipped: boolean; clippedCountStddev: number; expectedClients: number; random: RandomSource }): number {
  const { unclipped, clippedCountStddev, expectedClients, random } = input;
  if (typeof unclipped !== 'boolean') throw new TypeError(`unclipped must be a boolean, got ${typeof unclipped}`);
  assertNonNegativeFinite('clippedCountStddev', clippedCountStddev);
  assertPositiveFinite('expectedClients', expectedClients);
  const bit = unclipped ? 1 : 0;
  return clippedCountStddev === 0 ? bit : bit + (clippedCountStddev / Math.sqrt(expectedClients)) * gaussianSampler(random)();
}

/** The update with the client's noised indicator appended, as a new array. */
export function appendCountCoordinate(update: Float32Array, share: number): Float32Array {
  assertFloat32Array('update', update);
  if (!Number.isFinite(share)) throw new RangeError(`the count share must be a finite number, got ${share}`);
  const out = new Float32Array(update.length + COUNT_COORDINATES);
  out.set(update);
  out[update.length] = share;
  return out;
}

/** Splits an (unmasked) vector back into the update part and the count coordinate (views, no copy). */
export function splitCountCoordinate(vector: Float32Array): { update: Float32Array; count: number } {
  assertFloat32Array('vector', vector);
  if (vector.length <= COUNT_COORDINATES) throw new RangeError(`a vector with a count coordinate has at least 2 entries, got ${vector.length}`);
  const p = vector.length - COUNT_COORDINATES;
  return { update: vector.subarray(0, p), count: vector[p]! };
}

/** Whether a round's train config asks the client for the count coordinate. */
export function wantsCountCoordinate(config: Readonly<Record<string, ConfigValue>>): boolean {
  return config[DP_CONFIG_KEYS.mode] === 'distributed' && config[DP_CONFIG_KEYS.clippedCountStddev] !== undefined;
}

/**
 * What a client masks under secure aggregation: the (privatized) update, plus the count
 * coordinate when the train config asks for it. Throws `FedkitError('config-invalid')` when
 * it is asked for and no DP mod produced it (the masked vector would have the wrong length).
 */
export function secureSumVector(round: number, config: Readonly<Record<string, ConfigValue>>, outcome: TrainOutcome): Float32Array {
  if (!wantsCountCoordinate(config)) return outcome.update;
  const share = outcome.noisedUnclipped;
  if (typeof share !== 'number' || !Number.isFinite(share)) {
    throw new FedkitError(
      'config-invalid',
      `round ${round}: the train config carries "${DP_CONFIG_KEYS.clippedCountStddev}" (adaptive clipping under secure aggregation), but no distributedDpMod produced the noised clip indicator`,
    );
  }
  return appendCountCoordinate(outcome.update, share);
}

/**
 * The largest |value| a weight-1 client's coordinate keeps through quantization:
 * clippingRange / r₁ (∞ if weight 1 quantizes to 0, which `assertCountCoordinateFits` refuses).
 */
export function unitWeightRange(params: Partial<QuantizationParams> = {}): number {
  const full: QuantizationParams = { ...DEFAULT_QUANTIZATION, ...definedOnly(params) };
  return full.clippingRange / quantizeWeight(1, full).relative;
}

/**
 * Throws `RangeError` (message starting with the quantization field to change) unless a
 * count share of b + N(0, σ_b²/m) fits the quantization range of a weight-1 client with
 * 8 standard deviations to spare, and weight 1 does not quantize to 0.
 */
export function assertCountCoordinateFits(params: Partial<QuantizationParams>, count: { clippedCountStddev: number; expectedClients: number }): void {
  assertNonNegativeFinite('clippedCountStddev', count.clippedCountStddev);
  assertPositiveFinite('expectedClients', count.expectedClients);
  const full: QuantizationParams = { ...DEFAULT_QUANTIZATION, ...definedOnly(params) };
  if (quantizeWeight(1, full).relative === 0) {
    throw new RangeError(`maxWeight ${full.maxWeight} makes the weight 1 of distributed DP quantize to 0 with quantizationRange ${full.quantizationRange}: lower maxWeight`);
  }
  const needed = 1 + (SHARE_TAIL_STDDEVS * count.clippedCountStddev) / Math.sqrt(count.expectedClients);
  const range = unitWeightRange(full);
  if (range < needed) {
    throw new RangeError(
      `clippingRange ${full.clippingRange} (with maxWeight ${full.maxWeight}) keeps values of a weight-1 client within ±${range.toPrecision(4)}, ` +
        `but the clipped-count coordinate of adaptive clipping needs ±${needed.toPrecision(4)} (1 + 8·σ_b/√m): raise clippingRange or maxWeight`,
    );
  }
}

function definedOnly(params: Partial<QuantizationParams>): Partial<QuantizationParams> {
  return Object.fromEntries(Object.entries(params ?? {}).filter(([, v]) => v !== undefined));
}
