/**
 * Masked inputs summed before they reach the state machine. Masks cancel in any sum mod
 * 2^k, so a server that spreads its clients over several processes can let each process add
 * its own clients' masked vectors into a partial sum (`addMaskedInput`) and hand the state
 * machine the partials (`serverHandleMaskedSum` in server-state.ts) instead of one vector
 * per client. A partial sum is as hidden as one masked input: it is still masked.
 */
import { bytesToWords } from './bytes.js';
import { secAggError } from './errors.js';
import { addWords, reduceToModulus } from './masking.js';
import type { SecAggParams } from './messages.js';

type VectorParams = Pick<SecAggParams, 'vectorLength' | 'modulusBits'>;

/**
 * The masked words of `bytes` (vectorLength + 1 words: the update and its weight), each
 * checked to be below 2^modulusBits. Throws `update-size-mismatch` or
 * `secagg-value-out-of-range`, naming `what`.
 */
export function maskedWords(bytes: Uint8Array, params: VectorParams, what: string): Uint32Array {
  const words = bytesToWords(bytes, params.vectorLength + 1, what);
  const limit = 2 ** params.modulusBits;
  // Every uint32 is below 2^32: only a smaller modulus needs the scan.
  for (let i = 0; limit < 2 ** 32 && i < words.length; i++) {
    if (words[i]! >= limit) throw secAggError('secagg-value-out-of-range', `${what}: word ${i} is ${words[i]}, not below 2^${params.modulusBits}`);
  }
  return words;
}

/** A zero sum for `params`: vectorLength + 1 words. */
export function emptyMaskedSum(params: VectorParams): Uint32Array {
  return new Uint32Array(params.vectorLength + 1);
}

/**
 * sum ← (sum + masked) mod 2^modulusBits, in place, after checking `masked` as
 * `maskedWords` does (a refused input leaves `sum` unchanged).
 *
 * @example
 * const sum = emptyMaskedSum(params);
 * addMaskedInput(sum, reply.masked, params, 'client 3 masked input');
 */
export function addMaskedInput(sum: Uint32Array, masked: Uint8Array, params: VectorParams, what: string): void {
  if (sum.length !== params.vectorLength + 1) throw new RangeError(`the masked sum has ${sum.length} words, expected ${params.vectorLength + 1}`);
  addWords(sum, maskedWords(masked, params, what), 1);
  reduceToModulus(sum, params.modulusBits);
}
