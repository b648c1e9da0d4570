/**
 * Persisting a server optimizer's moments as JSON. Moments are float64 vectors as long as
 * the model, so they travel as base64 of their little-endian bytes (exact, and ~2.3x
 * smaller than a JSON array of numbers) rather than as arrays. Uses `btoa`/`atob`, which
 * Node ≥ 16 and browsers both have.
 */

/** Bytes per `String.fromCharCode` call: keeps the argument list well under engine limits. */
const CHUNK = 0x8000;

/** Base64 of `values` as little-endian float64. */
export function encodeFloat64(values: Float64Array): string {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i]!, true);
  let binary = '';
  for (let start = 0; start < bytes.length; start += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(start, start + CHUNK));
  }
  return btoa(binary);
}

/** Inverse of `encodeFloat64`; `RangeError` unless it decodes to exactly `length` floats. */
export function decodeFloat64(text: unknown, length: number, name: string): Float64Array {
  if (typeof text !== 'string') throw new TypeError(`${name} must be a base64 string, got ${text === null ? 'null' : typeof text}`);
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new RangeError(`${name} is not valid base64`);
  }
  if (binary.length !== length * 8) throw new RangeError(`${name} holds ${binary.length / 8} floats, expected ${length}`);
  const view = new DataView(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) view.setUint8(i, binary.charCodeAt(i));
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}
