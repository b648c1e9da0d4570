/**
 * Option checks for the DP factories (STYLE §11): one pass in the factory, `TypeError` for
 * a wrong type or an unknown key (a misspelt `noiseMultipler` must not silently fall back
 * to a default), `RangeError` for a value out of its domain, each naming the option.
 */
import { assertNumber } from '../validate.js';

/** Throws `TypeError` unless `options` is a plain object whose keys are all in `known`. */
export function assertOptionsObject(options: unknown, known: readonly string[], what: string): asserts options is object {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${what} options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new TypeError(`${what} has no option "${key}" (known: ${known.join(', ')})`);
  }
}

/** `value` checked by `check`, or `fallback` when it is undefined. */
export function numberOption(
  value: unknown,
  name: string,
  fallback: number,
  check: (name: string, value: unknown) => void,
): number {
  if (value === undefined) return fallback;
  check(name, value);
  return value as number;
}

/** An integer ≥ 1 (a count of replies). */
export function assertPositiveInteger(name: string, value: unknown): asserts value is number {
  assertNumber(name, value);
  if (!(Number.isSafeInteger(value) && value >= 1)) throw new RangeError(`${name} must be an integer ≥ 1, got ${value}`);
}
