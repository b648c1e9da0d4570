/**
 * The mask PRG: a 32-byte seed expanded into uint32 mask words with AES-256-CTR through
 * WebCrypto, which exists in browsers and in Node 20 (`globalThis.crypto.subtle`) and runs
 * on AES hardware: ~13x tweetnacl's stream cipher here (REFERENCE §4). Flower seeds a
 * non-cryptographic RNG with 32 bits; a mask must be as unpredictable as the key it hides.
 *
 * Definition (fixed, both sides must agree): key = seed; the initial counter block is 16
 * zero bytes and the whole 128-bit block is the big-endian counter (`length: 128`); the mask
 * is the keystream (AES-CTR over zero bytes) read as little-endian uint32 words. Every seed
 * is used for exactly one keystream (seeds are fresh per round and per purpose), so the fixed
 * counter never repeats a (key, counter) pair.
 */
import { assertBytes } from './bytes.js';
import { secAggError } from './errors.js';
import { SEED_BYTES } from './key-agreement.js';

/** Keystream bytes per WebCrypto call: bounds the transient memory, and calls overlap. */
const CHUNK_BYTES = 1 << 22;
const BLOCK_BYTES = 16;
const ZEROS = new Uint8Array(CHUNK_BYTES);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function subtle(): SubtleCrypto {
  const api = globalThis.crypto?.subtle;
  if (api === undefined) throw secAggError('backend-unavailable', 'WebCrypto (globalThis.crypto.subtle) is not available in this runtime');
  return api;
}

/**
 * AES-256-CTR encryption of `data` under `key` from `counterBlock` (128-bit big-endian
 * counter). Exposed for the known-answer test against NIST SP 800-38A F.5.5.
 */
export async function aes256CtrEncrypt(key: Uint8Array, counterBlock: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  assertBytes('key', key, 32);
  assertBytes('counterBlock', counterBlock, BLOCK_BYTES);
  assertBytes('data', data);
  const cryptoKey = await subtle().importKey('raw', key.slice(), { name: 'AES-CTR' }, false, ['encrypt']);
  const out = await subtle().encrypt({ name: 'AES-CTR', counter: counterBlock.slice(), length: 128 }, cryptoKey, data.slice());
  return new Uint8Array(out);
}

/**
 * Expands `seed` into `words` uniform uint32 words (the mask PRG defined above).
 *
 * @example
 * const mask = await expandMask(selfMaskSeed, update.length + 1);
 */
export async function expandMask(seed: Uint8Array, words: number): Promise<Uint32Array> {
  assertBytes('seed', seed, SEED_BYTES);
  if (!Number.isSafeInteger(words) || words < 0) throw new RangeError(`words must be a non-negative integer, got ${words}`);
  const out = new Uint32Array(words);
  const totalBytes = words * 4;
  if (totalBytes === 0) return out;
  // slice(): WebCrypto wants bytes over a plain ArrayBuffer, and the caller may zero its seed.
  const key = await subtle().importKey('raw', seed.slice(), { name: 'AES-CTR' }, false, ['encrypt']);
  const chunks: Promise<void>[] = [];
  for (let offset = 0; offset < totalBytes; offset += CHUNK_BYTES) {
    const length = Math.min(CHUNK_BYTES, totalBytes - offset);
    const counter = counterBlockAt(offset / BLOCK_BYTES);
    chunks.push(
      subtle()
        .encrypt({ name: 'AES-CTR', counter, length: 128 }, key, ZEROS.subarray(0, length))
        .then((keystream) => copyWords(out, offset / 4, new Uint8Array(keystream))),
    );
  }
  await Promise.all(chunks);
  return out;
}

/** The counter block for block index `block` (< 2^53): zeros, then the index big-endian. */
function counterBlockAt(block: number): Uint8Array<ArrayBuffer> {
  const counter = new Uint8Array(BLOCK_BYTES);
  const view = new DataView(counter.buffer);
  view.setUint32(8, Math.floor(block / 0x100000000), false);
  view.setUint32(12, block >>> 0, false);
  return counter;
}

function copyWords(out: Uint32Array, wordOffset: number, bytes: Uint8Array): void {
  if (LITTLE_ENDIAN) {
    out.set(new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4), wordOffset);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < bytes.length / 4; i++) out[wordOffset + i] = view.getUint32(i * 4, true);
}
