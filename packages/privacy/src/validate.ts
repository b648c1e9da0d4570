/**
 * Argument checks shared by the privacy modules. A privacy parameter that is silently
 * wrong (a NaN noise multiplier, a sampling rate of 4 meant as 4%) weakens the guarantee
 * without any visible failure, so every public entry point checks its numbers once and
 * names the offending value: `TypeError` for a non-number, `RangeError` for a number
 * outside its domain.
 */

/** Throws `TypeError` unless `value` is a number (NaN passes here and fails the range checks). */
export function assertNumber(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number, got ${typeof value} ${String(value)}`);
  }
}

/** `lo ≤ value ≤ hi`. */
export function assertInClosedRange(name: string, value: unknown, lo: number, hi: number): asserts value is number {
  assertNumber(name, value);
  if (!(value >= lo && value <= hi)) throw new RangeError(`${name} must be in [${lo}, ${hi}], got ${value}`);
}

/** `lo < value < hi`. */
export function assertInOpenRange(name: string, value: unknown, lo: number, hi: number): asserts value is number {
  assertNumber(name, value);
  if (!(value > lo && value < hi)) throw new RangeError(`${name} must be in (${lo}, ${hi}), got ${value}`);
}

/** A finite number `≥ 0`. */
export function assertNonNegativeFinite(name: string, value: unknown): asserts value is number {
  assertNumber(name, value);
  if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
}

/** A finite number `> 0`. */
export function assertPositiveFinite(name: string, value: unknown): asserts value is number {
  assertNumber(name, value);
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
}

/** A safe integer `≥ 0`. */
export function assertNonNegativeInteger(name: string, value: unknown): asserts value is number {
  assertNumber(name, value);
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

/** Throws `TypeError` unless `value` is a `Float32Array`. */
export function assertFloat32Array(name: string, value: unknown): asserts value is Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`${name} must be a Float32Array, got ${Object.prototype.toString.call(value).slice(8, -1)}`);
  }
}
