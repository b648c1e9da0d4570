/**
 * Validation of strategy options, shared by every strategy factory so that all of them
 * reject the same mistakes the same way: once, in the factory, with a `TypeError` for a
 * wrong type or an unknown key and a `RangeError` for a value out of range, each naming
 * the option (STYLE §11, §12).
 */

/** Throws `TypeError` unless `options` is a plain object whose keys are all in `known`. */
export function assertOptionsObject(options: unknown, known: readonly string[], what: string): asserts options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${what} options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${what} has no option "${key}" (known: ${known.join(', ')})`);
    }
  }
}

/** An optional integer option in `[min, max]`, or `fallback` when undefined. */
export function integerOption(value: unknown, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/** An optional option that must be one of `choices`, or `fallback` when undefined. */
export function choiceOption<T extends string>(value: unknown, name: string, fallback: T, choices: readonly T[]): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new TypeError(`${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** Throws `RangeError` unless `numExamples` is a non-negative safe integer. */
export function assertExampleCount(numExamples: unknown, clientId: string): asserts numExamples is number {
  if (typeof numExamples !== 'number') {
    throw new TypeError(`client "${clientId}" numExamples must be a number, got ${typeof numExamples}`);
  }
  if (!Number.isSafeInteger(numExamples) || numExamples < 0) {
    throw new RangeError(`client "${clientId}" numExamples must be a non-negative integer, got ${numExamples}`);
  }
}
