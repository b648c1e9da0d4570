/**
 * Validation of real-valued strategy options (learning rates, decay rates, τ, μ), so every
 * server optimizer rejects the same mistakes the same way: `TypeError` for a value that is
 * not a number (or boolean), `RangeError` naming the option and the allowed range for one
 * out of range (STYLE §11, §12).
 */

/** Where a real option must lie; bounds are closed unless marked open. */
export interface RealRange {
  min?: number;
  max?: number;
  minOpen?: boolean;
  maxOpen?: boolean;
}

function describeRange({ min, max, minOpen, maxOpen }: RealRange): string {
  if (min !== undefined && max !== undefined) return `in ${minOpen ? '(' : '['}${min}, ${max}${maxOpen ? ')' : ']'}`;
  if (min !== undefined) return `${minOpen ? '>' : '≥'} ${min}`;
  if (max !== undefined) return `${maxOpen ? '<' : '≤'} ${max}`;
  return 'finite';
}

/** An optional finite number within `range`, or `fallback` when undefined. */
export function realOption(value: unknown, name: string, fallback: number, range: RealRange): number {
  if (value === undefined) return fallback;
  return requiredReal(value, name, range);
}

/** A finite number within `range`; `undefined` is a `TypeError` naming the option. */
export function requiredReal(value: unknown, name: string, range: RealRange): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${value === null ? 'null' : typeof value}`);
  const { min, max, minOpen, maxOpen } = range;
  const tooLow = min !== undefined && (minOpen ? value <= min : value < min);
  const tooHigh = max !== undefined && (maxOpen ? value >= max : value > max);
  if (!Number.isFinite(value) || tooLow || tooHigh) throw new RangeError(`${name} must be a finite number ${describeRange(range)}, got ${value}`);
  return value;
}

/** An optional boolean option, or `fallback` when undefined. */
export function booleanOption(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${value === null ? 'null' : typeof value}`);
  return value;
}

/** β ∈ [0, 1): decay rates and momentum. */
export const DECAY_RANGE: RealRange = { min: 0, max: 1, maxOpen: true };
/** > 0: learning rates and τ. */
export const POSITIVE_RANGE: RealRange = { min: 0, minOpen: true };
/** ≥ 0: μ and initial accumulators. */
export const NON_NEGATIVE_RANGE: RealRange = { min: 0 };
