/**
 * Secure-aggregation messages carry many small byte strings (keys, encrypted shares), one
 * per neighbour. socket.io decoders accept at most 10 binary attachments per packet, so
 * instead of one attachment per field, a message's byte strings travel concatenated in one
 * attachment (`data`) and each field holds `{ bin: [offset, length] }` into it.
 *
 * @example
 * const { payload, data } = packBinaryFields({ key: new Uint8Array(32) });
 * // payload = { key: { bin: [0, 32] } }, data = the 32 bytes
 * unpackBinaryFields(payload, data); // { key: Uint8Array(32) }
 */
import { FedkitError } from './errors.js';

/** Deepest nesting a packed payload may have (secure-aggregation messages use 3). */
const MAX_DEPTH = 8;

/** Replaces every Uint8Array in `value` by `{ bin: [offset, length] }` into the returned `data`. */
export function packBinaryFields(value: unknown): { payload: unknown; data: Uint8Array } {
  const parts: Uint8Array[] = [];
  let size = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (v instanceof Uint8Array) {
      const ref = { bin: [size, v.byteLength] };
      parts.push(v);
      size += v.byteLength;
      return ref;
    }
    if (depth >= MAX_DEPTH || typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, depth + 1)]));
  };
  const payload = walk(value, 0);
  const data = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.byteLength;
  }
  return { payload, data };
}

/**
 * The inverse of `packBinaryFields` for untrusted input: every `{ bin: [offset, length] }`
 * becomes a copy of those bytes of `data` (a Uint8Array, or the ArrayBuffer browsers get).
 * A reference outside `data`, or nesting deeper than 8, throws `FedkitError('invalid-message')`.
 */
export function unpackBinaryFields(value: unknown, data: unknown, what: string): unknown {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : data === undefined ? new Uint8Array(0) : null;
  if (bytes === null) throw new FedkitError('invalid-message', `${what}: field "data" must be binary`);
  const walk = (v: unknown, depth: number, path: string): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (depth >= MAX_DEPTH) throw new FedkitError('invalid-message', `${what}: field "${path}" is nested too deeply`);
    if (Array.isArray(v)) return v.map((x, i) => walk(x, depth + 1, `${path}[${i}]`));
    const ref = (v as { bin?: unknown }).bin;
    if (ref !== undefined && Object.keys(v).length === 1) {
      const [offset, length] = Array.isArray(ref) && ref.length === 2 ? (ref as unknown[]) : [];
      if (!Number.isInteger(offset) || !Number.isInteger(length) || (offset as number) < 0 || (length as number) < 0 || (offset as number) + (length as number) > bytes.byteLength) {
        throw new FedkitError('invalid-message', `${what}: field "${path}.bin" must be [offset, length] within the ${bytes.byteLength}-byte data`);
      }
      return bytes.slice(offset as number, (offset as number) + (length as number));
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, depth + 1, `${path}.${k}`)]));
  };
  return walk(value, 0, 'payload');
}
