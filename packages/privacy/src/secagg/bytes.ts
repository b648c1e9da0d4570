/**
 * Byte and word helpers shared by the secure-aggregation modules. Masked vectors travel as
 * `Uint8Array` (little-endian uint32 words) like every other binary field of the protocol,
 * and are viewed as `Uint32Array` for arithmetic; these helpers do that conversion without
 * depending on the platform's byte order.
 */
import { secAggError } from './errors.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Throws `TypeError` unless `value` is a `Uint8Array` (of `length` bytes when given). */
export function assertBytes(name: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${Object.prototype.toString.call(value).slice(8, -1)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}

/** Byte-wise equality (not constant-time: use it on public values only). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Concatenates byte arrays into a new one. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A uint32 as 4 big-endian bytes (used in hashed contexts and share headers). */
export function uint32Bytes(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, false);
  return out;
}

/** The words as little-endian bytes (a view when the platform is little-endian). */
export function wordsToBytes(words: Uint32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < words.length; i++) view.setUint32(i * 4, words[i]!, true);
  return out;
}

/**
 * Little-endian bytes as a new `Uint32Array` of `expectedWords` words. Throws
 * `FedkitError('update-size-mismatch')` when the byte length is not `4 · expectedWords`.
 */
export function bytesToWords(bytes: Uint8Array, expectedWords: number, what: string): Uint32Array {
  if (bytes.length !== expectedWords * 4) {
    throw secAggError('update-size-mismatch', `${what} has ${bytes.length} bytes, expected ${expectedWords * 4} (${expectedWords} uint32 words)`);
  }
  const out = new Uint32Array(expectedWords);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < expectedWords; i++) out[i] = view.getUint32(i * 4, true);
  }
  return out;
}

/** Lower-case hex, e.g. to key a `Set` by a public key (works in browsers, unlike Buffer). */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}
