/**
 * From Rényi DP to the (ε, δ) that people budget in. An RDP curve r_α gives an (ε, δ)
 * guarantee at every order; the accountant reports the best one.
 *
 * We use the conversion of Balle et al. 2020 (arXiv:1905.09982, Thm. 21) and Canonne,
 * Kamath & Steinke 2020 (arXiv:2004.00010, Prop. 12), as Opacus and dp_accounting do:
 *   ε = min_α [ r_α + ln(1 − 1/α) − (ln δ + ln α)/(α − 1) ].
 * The older r_α + ln(1/δ)/(α − 1) (Mironov 2017) is 15–30% looser.
 */
import { assertValidOrders, DEFAULT_RDP_ORDERS } from './orders.js';
import { assertValidPhase, computeRdp, type SubsampledGaussianPhase } from './subsampled-gaussian.js';
import { assertInOpenRange, assertNumber } from '../validate.js';

/** An (ε, δ) guarantee's ε and the RDP order that gave it. */
export interface EpsilonResult {
  /** ε ≥ 0; `Infinity` when every order has infinite RDP (e.g. σ = 0). */
  epsilon: number;
  /** The order α that achieved `epsilon`; `NaN` when `epsilon` is infinite. */
  order: number;
}

/**
 * The smallest ε over `orders` such that RDP values `rdp` (aligned with `orders`) imply
 * (ε, δ)-DP.
 *
 * When 1 − e^(−r_α) ≤ δ² at some order, the mechanism is (0, δ)-DP outright (the KL
 * bound in CKS 2020, Prop. 12, also used by dp_accounting); in particular an accountant
 * that charged nothing, or only q = 0 steps, reports ε = 0.
 *
 * @example
 * epsilonFromRdp({ orders: [2, 4, 8], rdp: [0.1, 0.3, 0.9], delta: 1e-5 });
 */
export function epsilonFromRdp(input: { orders: readonly number[]; rdp: readonly number[]; delta: number }): EpsilonResult {
  const { orders, rdp, delta } = input;
  assertValidOrders(orders, 'orders');
  if (!Array.isArray(rdp)) throw new TypeError(`rdp must be an array of numbers, got ${typeof rdp}`);
  if (rdp.length !== orders.length) {
    throw new RangeError(`rdp has ${rdp.length} values but there are ${orders.length} orders`);
  }
  assertInOpenRange('delta', delta, 0, 1);
  let best: EpsilonResult = { epsilon: Infinity, order: Number.NaN };
  for (let k = 0; k < orders.length; k++) {
    const alpha = orders[k]!;
    const r = rdp[k];
    assertNumber(`rdp[${k}]`, r);
    if (!(r >= 0)) throw new RangeError(`rdp[${k}] must be ≥ 0 (or Infinity), got ${r}`);
    if (r === Infinity) continue;
    if (-Math.expm1(-r) <= delta * delta) return { epsilon: 0, order: alpha };
    const epsilon = r + Math.log1p(-1 / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1);
    if (epsilon < best.epsilon) best = { epsilon, order: alpha };
  }
  // ε < 0 carries no meaning: (0, δ) is the strongest statement.
  return best.epsilon < 0 ? { epsilon: 0, order: best.order } : best;
}

/**
 * ε for `steps` steps of one subsampled Gaussian at a given δ: {@link computeRdp} then
 * {@link epsilonFromRdp}.
 *
 * @example
 * // Opacus accountants_test: ε ≈ 7.3291 at order 3.9.
 * computeEpsilon({ samplingRate: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5 });
 */
export function computeEpsilon(
  input: SubsampledGaussianPhase & { delta: number; orders?: readonly number[] },
): EpsilonResult {
  assertValidPhase(input, 'input');
  assertInOpenRange('delta', input.delta, 0, 1);
  const orders = input.orders ?? DEFAULT_RDP_ORDERS;
  return epsilonFromRdp({ orders, rdp: computeRdp({ ...input, orders }), delta: input.delta });
}
