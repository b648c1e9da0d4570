/**
 * Mask arithmetic shared by client and server: add or subtract PRG masks into a vector of
 * uint32 words mod 2^32 and reduce to the configured modulus 2^k. Storing into a
 * `Uint32Array` reduces mod 2^32 for free, and 2^k divides 2^32, so reducing once at the
 * end is exact for any k ≤ 32.
 *
 * Sign convention for pairwise masks: the client with the smaller id adds PRG(s_uv), the one
 * with the larger id subtracts it, so the pair cancels in the sum.
 */
import { expandMask } from './mask-prg.js';

/** One mask to fold in: the PRG seed and whether it is added (+1) or subtracted (−1). */
export interface MaskTerm {
  readonly seed: Uint8Array;
  readonly sign: 1 | -1;
}

/** +1 when `me` adds the pairwise mask it shares with `peer`, −1 when it subtracts it. */
export function pairwiseSign(me: number, peer: number): 1 | -1 {
  return me < peer ? 1 : -1;
}

/** target ← target + sign · mask (mod 2^32), in place. */
export function addWords(target: Uint32Array, mask: Uint32Array, sign: 1 | -1): void {
  if (mask.length !== target.length) throw new RangeError(`mask has ${mask.length} words, target has ${target.length}`);
  const n = target.length;
  if (sign === 1) {
    for (let i = 0; i < n; i++) target[i] = target[i]! + mask[i]!;
  } else {
    for (let i = 0; i < n; i++) target[i] = target[i]! - mask[i]!;
  }
}

/** Reduces every word mod 2^modulusBits, in place (a no-op for 32). */
export function reduceToModulus(words: Uint32Array, modulusBits: number): void {
  if (modulusBits >= 32) return;
  const mask = 2 ** modulusBits - 1;
  for (let i = 0; i < words.length; i++) words[i] = words[i]! & mask;
}

/**
 * Expands each term's seed to `target.length` words and folds it in. At most `concurrency`
 * expansions are in flight (WebCrypto works off the main thread in Node), which bounds the
 * transient memory to `concurrency` masks.
 */
export async function applyMasks(target: Uint32Array, terms: readonly MaskTerm[], concurrency = 4): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < terms.length) {
      const term = terms[next++]!;
      addWords(target, await expandMask(term.seed, target.length), term.sign);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, terms.length)) }, worker));
}
