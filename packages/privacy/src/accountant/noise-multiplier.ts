/**
 * Calibration: the smallest noise multiplier that keeps a planned run inside an (ε, δ)
 * budget. Operators think in budgets ("ε = 8 at δ = 1e−5 over 2000 rounds"), the mechanism
 * needs σ; ε(σ) is decreasing, so bisection on σ finds it.
 */
import { FedkitError } from '@fedkit/protocol';
import { computeEpsilon } from './conversion.js';
import { assertValidOrders, DEFAULT_RDP_ORDERS } from './orders.js';
import {
  assertInClosedRange,
  assertInOpenRange,
  assertNonNegativeInteger,
  assertPositiveFinite,
} from '../validate.js';

export interface NoiseMultiplierQuery {
  /** The ε to stay within, > 0. */
  targetEpsilon: number;
  /** Poisson sampling rate q ∈ [0, 1] of every step. */
  samplingRate: number;
  /** Number of steps (rounds) planned. */
  steps: number;
  /** δ ∈ (0, 1). */
  delta: number;
  /** @default DEFAULT_RDP_ORDERS */
  orders?: readonly number[];
  /**
   * Width of the final bracket, in noise-multiplier units: the answer is at most this far
   * above the exact threshold. @default 1e-5
   */
  tolerance?: number;
}

/** Above this σ we give up: the target needs more noise than any real run would add. */
const MAX_NOISE_MULTIPLIER = 2 ** 40;

/**
 * The smallest noise multiplier σ (to within `tolerance`, rounding up) such that `steps`
 * steps at sampling rate q spend at most `targetEpsilon` at `delta`. The result always
 * satisfies the budget: it is the upper end of the final bisection bracket.
 *
 * Returns 0 when q = 0 or steps = 0 (nothing is spent). Throws `FedkitError('config-invalid')`
 * when no σ up to 2⁴⁰ reaches the target.
 *
 * @example
 * // Opacus get_noise_multiplier reports 1.3562 with its ε tolerance of 0.01; the exact
 * // threshold is 1.35613…
 * noiseMultiplierForEpsilon({ targetEpsilon: 8, delta: 1e-5, samplingRate: 0.04, steps: 2000 });
 */
export function noiseMultiplierForEpsilon(query: NoiseMultiplierQuery): number {
  if (typeof query !== 'object' || query === null) throw new TypeError('query must be an object');
  const { targetEpsilon, samplingRate, steps, delta } = query;
  assertPositiveFinite('targetEpsilon', targetEpsilon);
  assertInClosedRange('samplingRate', samplingRate, 0, 1);
  assertNonNegativeInteger('steps', steps);
  assertInOpenRange('delta', delta, 0, 1);
  const orders = query.orders ?? DEFAULT_RDP_ORDERS;
  assertValidOrders(orders, 'orders');
  const tolerance = query.tolerance ?? 1e-5;
  assertPositiveFinite('tolerance', tolerance);
  if (samplingRate === 0 || steps === 0) return 0;

  const fits = (noiseMultiplier: number): boolean =>
    computeEpsilon({ samplingRate, noiseMultiplier, steps, delta, orders }).epsilon <= targetEpsilon;

  let lo = 0; // ε(0) = ∞: never fits
  let hi = 1;
  while (!fits(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > MAX_NOISE_MULTIPLIER) {
      throw new FedkitError(
        'config-invalid',
        `no noise multiplier up to 2^40 keeps ${steps} steps at sampling rate ${samplingRate} within ` +
          `epsilon ${targetEpsilon} at delta ${delta}`,
      );
    }
  }
  while (hi - lo > tolerance) {
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break; // the bracket is as narrow as doubles allow
    if (fits(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
