/**
 * Persisting a server optimizer's moments as JSON. Moments are float64 vectors as long as
 * the model, so they travel as base64 of their little-endian bytes (exact, and ~2.3x
 * smaller than a JSON array of numbers) rather than as arrays.
 *
 * Node's `Buffer` is used where it exists (feature-detected: ~20x faster than `btoa` on a
 * CNN-sized state), `btoa`/`atob` elsewhere; both give the same text.
 */

/** Bytes per `String.fromCharCode` call: keeps the argument list well under engine limits. */
const CHUNK = 0x8000;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const LITTLE_ENDIAN = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f;

/** The part of Node's `Buffer` used here; tests pass `null` to take the portable path. */
export interface BufferLike {
  from(data: Uint8Array | string, encoding?: string): Uint8Array & { toString(encoding: string): string };
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** The little-endian bytes of `values` (a view when the platform is little-endian). */
function littleEndianBytes(values: Float64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i]!, true);
  return bytes;
}

/** Base64 of `values` as little-endian float64. */
export function encodeFloat64(values: Float64Array, nodeBuffer: BufferLike | null = NodeBuffer ?? null): string {
  const bytes = littleEndianBytes(values);
  if (nodeBuffer !== null) return nodeBuffer.from(bytes).toString('base64'); // copies
  let binary = '';
  for (let start = 0; start < bytes.length; start += CHUNK) binary += String.fromCharCode(...bytes.subarray(start, start + CHUNK));
  return btoa(binary);
}

/** Inverse of `encodeFloat64`; `RangeError` naming `name` unless it decodes to exactly `length` floats. */
export function decodeFloat64(text: unknown, length: number, name: string, nodeBuffer: BufferLike | null = NodeBuffer ?? null): Float64Array {
  if (typeof text !== 'string') throw new TypeError(`${name} must be a base64 string, got ${text === null ? 'null' : typeof text}`);
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw new RangeError(`${name} is not valid base64`);
  let bytes: Uint8Array;
  if (nodeBuffer !== null) {
    bytes = nodeBuffer.from(text, 'base64');
  } else {
    const binary = atob(text);
    bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  }
  if (bytes.length !== length * 8) throw new RangeError(`${name} holds ${bytes.length / 8} floats, expected ${length}`);
  const out = new Float64Array(length);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}
