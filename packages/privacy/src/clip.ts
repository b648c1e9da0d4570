/**
 * L2 clipping bounds each client's influence on the aggregate: after clipping to S, adding
 * or removing one client moves the sum by at most S, which is the sensitivity the Gaussian
 * noise and the RDP accountant are calibrated to (DP-FedAvg, McMahan et al. 2018). Clip the
 * update (local − global), never the weights.
 *
 * Inputs are never mutated (STYLE §5); norms accumulate in float64 so a million float32
 * squares do not lose the small ones.
 */
import { FedkitError } from '@fedkit/protocol';
import { assertFloat32Array, assertPositiveFinite } from './validate.js';

/** ‖values‖₂, accumulated in float64. Non-finite input gives a non-finite norm. */
export function l2Norm(values: Float32Array): number {
  assertFloat32Array('values', values);
  return Math.sqrt(sumOfSquares(values, 0, values.length));
}

function sumOfSquares(values: Float32Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = values[i]!;
    sum += v * v;
  }
  return sum;
}

/** A clipped copy and the norm measured before clipping. */
export interface ClipResult {
  clipped: Float32Array;
  /** ‖update‖₂ before clipping (adaptive clipping counts how often it is ≤ clipNorm). */
  norm: number;
}

/**
 * Returns Δ·min(1, S/‖Δ‖) as a new array, with ‖result‖₂ ≤ S guaranteed even after rounding
 * to float32. Throws `FedkitError('update-not-finite')` if the update holds NaN or ±∞.
 *
 * @example
 * const { clipped, norm } = clipL2(update, 1.0);
 */
export function clipL2(update: Float32Array, clipNorm: number): ClipResult {
  assertFloat32Array('update', update);
  assertPositiveFinite('clipNorm', clipNorm);
  const clipped = new Float32Array(update.length);
  const norm = clipRange(update, clipped, 0, update.length, clipNorm, 'update');
  return { clipped, norm };
}

/**
 * Copies `source[start, end)` into `target`, scaled so its norm is at most `clipNorm`, and
 * returns the pre-clip norm. Rounding each scaled value to float32 can lift the norm by a
 * relative 2⁻²⁴, so the scale shrinks until the stored values really fit: the noise is
 * calibrated to S, and a sensitivity of S·(1 + 6e−8) is not S.
 */
function clipRange(
  source: Float32Array,
  target: Float32Array,
  start: number,
  end: number,
  clipNorm: number,
  what: string,
): number {
  const norm = Math.sqrt(sumOfSquares(source, start, end));
  if (!Number.isFinite(norm)) {
    let bad = start;
    while (bad < end && Number.isFinite(source[bad]!)) bad++;
    const detail = bad < end ? `value ${source[bad]} at index ${bad}` : 'a norm that overflows';
    throw new FedkitError('update-not-finite', `${what} has ${detail}`);
  }
  if (norm <= clipNorm) {
    target.set(source.subarray(start, end), start);
    return norm;
  }
  let scale = clipNorm / norm;
  // One shrink by 2⁻²² covers the rounding; doubling it each time ends at scale 0 (≤ 23
  // passes) even for subnormal clip norms where float32 cannot get close to S.
  for (let shrink = 2 ** -22; ; shrink = Math.min(1, 2 * shrink)) {
    for (let i = start; i < end; i++) target[i] = source[i]! * scale;
    if (sumOfSquares(target, start, end) <= clipNorm * clipNorm) return norm;
    scale *= 1 - shrink;
  }
}

/** How a flat clip norm S is split into per-layer norms S_l with Σ S_l² = S². */
export type ClipNormSplit =
  /** S_l = S/√L for L layers. */
  | { kind: 'equal' }
  /** S_l = S·√(n_l/n): layers get budget in proportion to their parameter count. */
  | { kind: 'by-size' };

/**
 * Per-layer clip norms whose squares sum to S², so per-layer clipping bounds the whole
 * update's norm by S and the sensitivity (hence the accountant) is unchanged.
 *
 * @param offsets layer boundaries as from `layoutOffsets`: `[0, o₁, …, total]`
 * @param split @default { kind: 'equal' }
 * @example
 * perLayerClipNorms(1, layoutOffsets(layout)); // [0.5, 0.5, 0.5, 0.5] for 4 tensors
 */
export function perLayerClipNorms(
  clipNorm: number,
  offsets: readonly number[],
  split: ClipNormSplit = { kind: 'equal' },
): number[] {
  assertPositiveFinite('clipNorm', clipNorm);
  assertValidOffsets(offsets);
  const layers = offsets.length - 1;
  const total = offsets[layers]!;
  switch (split.kind) {
    case 'equal':
      return Array.from({ length: layers }, () => clipNorm / Math.sqrt(layers));
    case 'by-size':
      if (total === 0) throw new FedkitError('config-invalid', `cannot split clipNorm by size: the layout is empty`);
      return Array.from({ length: layers }, (_, l) => clipNorm * Math.sqrt((offsets[l + 1]! - offsets[l]!) / total));
    default:
      throw new FedkitError('config-invalid', `unknown clip norm split ${JSON.stringify(split)}`);
  }
}

/** A clipped copy and each layer's norm before clipping. */
export interface PerLayerClipResult {
  clipped: Float32Array;
  norms: number[];
}

/**
 * Clips each tensor `update[offsets[l], offsets[l+1])` to `clipNorms[l]` independently,
 * into a new array. With norms from {@link perLayerClipNorms} the whole update stays
 * within the flat clip norm.
 *
 * @example
 * const offsets = layoutOffsets(layout);
 * const { clipped } = clipL2PerLayer(update, offsets, perLayerClipNorms(1, offsets));
 */
export function clipL2PerLayer(
  update: Float32Array,
  offsets: readonly number[],
  clipNorms: readonly number[],
): PerLayerClipResult {
  assertFloat32Array('update', update);
  assertValidOffsets(offsets);
  const layers = offsets.length - 1;
  if (offsets[layers] !== update.length) {
    throw new FedkitError('update-size-mismatch', `update has ${update.length} floats, the offsets end at ${offsets[layers]}`);
  }
  if (!Array.isArray(clipNorms) || clipNorms.length !== layers) {
    throw new FedkitError('config-invalid', `expected ${layers} clip norms (one per layer), got ${String(clipNorms?.length)}`);
  }
  clipNorms.forEach((s, l) => assertPositiveFinite(`clipNorms[${l}]`, s));
  const clipped = new Float32Array(update.length);
  const norms = clipNorms.map((s, l) => clipRange(update, clipped, offsets[l]!, offsets[l + 1]!, s, `update layer ${l}`));
  return { clipped, norms };
}

function assertValidOffsets(offsets: readonly number[]): void {
  if (!Array.isArray(offsets) || offsets.length < 2) {
    throw new FedkitError('config-invalid', 'offsets must be an array [0, ..., total] with at least one layer');
  }
  if (offsets[0] !== 0) throw new FedkitError('config-invalid', `offsets[0] must be 0, got ${offsets[0]}`);
  for (let l = 1; l < offsets.length; l++) {
    const o = offsets[l];
    if (!Number.isSafeInteger(o) || o! < offsets[l - 1]!) {
      throw new FedkitError('config-invalid', `offsets[${l}] must be an integer ≥ offsets[${l - 1}], got ${o}`);
    }
  }
}
