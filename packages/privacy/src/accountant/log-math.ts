/**
 * Arithmetic in log space for the RDP accountant. The terms of the subsampled-Gaussian
 * moment A_α span hundreds of orders of magnitude (e^(α²/2σ²) against tails of erfc at
 * arguments in the thousands), so sums are carried as logarithms and erfc is evaluated
 * directly as log erfc, never as a float that would underflow to 0.
 */

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
/** Below this |x| erf comes from its power series, above it erfc from its continued fraction. */
const SERIES_LIMIT = 1.2;

/** log(e^a + e^b), exact when either side is −∞ (a zero). */
export function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (lo === -Infinity) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/**
 * log(e^a − e^b) for a ≥ b. Throws `RangeError` when the difference would be negative:
 * callers only subtract terms that a convergence argument says are smaller.
 */
export function logSub(a: number, b: number): number {
  if (a < b) throw new RangeError(`log-space subtraction would be negative: log ${a} − log ${b}`);
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  return a + Math.log(-Math.expm1(b - a));
}

/**
 * erf(x) for |x| ≤ SERIES_LIMIT by the all-positive series
 * erf(x) = (2/√π) e^(−x²) Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), which has no cancellation.
 */
function erfSeries(x: number): number {
  const twoXSquared = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 0; n < 200 && Math.abs(term) > Math.abs(sum) * 1e-17; n++) {
    term *= twoXSquared / (2 * n + 3);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
}

/**
 * log erfc(x) for x > 0 from the continued fraction
 * erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))),
 * evaluated with the modified Lentz method: about 130 terms at x = SERIES_LIMIT, fewer
 * beyond. It never forms e^(−x²), so it stays finite for any x.
 */
function logErfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 5000; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? 1 / tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - LOG_SQRT_PI - Math.log(f);
}

/**
 * log(erfc(x)) with close to full double precision over the whole real line, including
 * x ≫ 1 where erfc(x) itself underflows.
 *
 * @example
 * logErfc(30); // ≈ −904.21, although erfc(30) ≈ 2.6e−393 is not a double
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x === Infinity) return -Infinity;
  if (x === -Infinity) return Math.LN2;
  if (x >= SERIES_LIMIT) return logErfcContinuedFraction(x);
  if (x >= 0) return Math.log1p(-erfSeries(x));
  if (x > -SERIES_LIMIT) return Math.log1p(erfSeries(-x));
  // erfc(x) = 2 − erfc(−x) for x < 0.
  return Math.LN2 + Math.log1p(-0.5 * Math.exp(logErfcContinuedFraction(-x)));
}
