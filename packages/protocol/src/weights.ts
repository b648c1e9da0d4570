/**
 * The weight codec. A model's parameters travel as one flat little-endian float32 buffer,
 * tensors back to back in layout order, described by a layout: the list of tensor names
 * and shapes. Everything above the tfjs boundary (aggregation, privacy, the server) works on
 * the flat `Float32Array`, never on tensors or JSON number arrays.
 */
import { FedkitError } from './errors.js';

/** One tensor of a model: its tfjs weight name and shape. Only float32 travels. */
export interface TensorSpec {
  name: string;
  shape: number[];
}

/** The ordered tensors of a model. */
export type WeightsLayout = readonly TensorSpec[];

/** Parameters of a model: a layout and the flat values, `data.length === layoutSize(layout)`. */
export interface FlatWeights {
  layout: WeightsLayout;
  data: Float32Array;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Number of float32 values in one tensor. */
export function tensorSize(spec: TensorSpec): number {
  let n = 1;
  for (const d of spec.shape) n *= d;
  return n;
}

/** Number of float32 values in a whole layout. */
export function layoutSize(layout: WeightsLayout): number {
  let n = 0;
  for (const spec of layout) n += tensorSize(spec);
  return n;
}

/** Float offsets of each tensor in the flat buffer, plus the total at the end. */
export function layoutOffsets(layout: WeightsLayout): number[] {
  const offsets = [0];
  for (const spec of layout) offsets.push(offsets[offsets.length - 1]! + tensorSize(spec));
  return offsets;
}

/**
 * Checks that `actual` has the same tensors and shapes as `expected`, naming the first
 * difference. Throws `update-shape-mismatch`.
 */
export function assertSameLayout(expected: WeightsLayout, actual: WeightsLayout, what = 'update'): void {
  if (actual.length !== expected.length) {
    throw new FedkitError(
      'update-shape-mismatch',
      `${what} has ${actual.length} tensors, the model has ${expected.length}`,
    );
  }
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    const sameShape = a.shape.length === e.shape.length && a.shape.every((d, j) => d === e.shape[j]);
    if (a.name !== e.name || !sameShape) {
      throw new FedkitError(
        'update-shape-mismatch',
        `${what} tensor ${i} is "${a.name}" [${a.shape.join(',')}], the model expects "${e.name}" [${e.shape.join(',')}]`,
      );
    }
  }
}

/** Validates a layout's shapes (non-negative integer dimensions, unique names). */
export function assertValidLayout(layout: WeightsLayout): void {
  const names = new Set<string>();
  for (const spec of layout) {
    if (names.has(spec.name)) throw new FedkitError('weights-layout-invalid', `tensor name "${spec.name}" appears twice`);
    names.add(spec.name);
    for (const d of spec.shape) {
      if (!Number.isInteger(d) || d < 0) {
        throw new FedkitError('weights-layout-invalid', `tensor "${spec.name}" has invalid dimension ${d}`);
      }
    }
  }
}

/**
 * Encodes float32 values as little-endian bytes. On little-endian hosts (all current
 * browsers and Node platforms) this is a view of the same memory, not a copy.
 */
export function encodeFloat32(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/**
 * Decodes little-endian float32 bytes for `layout`. Throws `update-size-mismatch` naming the
 * expected and actual byte lengths. Copies only when the bytes are unaligned or the host is
 * big-endian.
 */
export function decodeFloat32(bytes: Uint8Array, layout: WeightsLayout, what = 'update'): Float32Array {
  const expectedFloats = layoutSize(layout);
  if (bytes.byteLength !== expectedFloats * 4) {
    throw new FedkitError(
      'update-size-mismatch',
      `${what} has ${bytes.byteLength} bytes, expected ${expectedFloats * 4} (${expectedFloats} float32 values)`,
    );
  }
  if (LITTLE_ENDIAN_HOST) {
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, expectedFloats);
    return new Float32Array(bytes.slice().buffer);
  }
  const out = new Float32Array(expectedFloats);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < expectedFloats; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Index of the first NaN or ±Infinity in `values`, or -1. */
export function findNonFinite(values: Float32Array): number {
  // v - v is NaN exactly when v is NaN or infinite, and a sum holding a NaN is NaN, so one
  // test covers a block of 8; only a block that fails is scanned value by value. This runs
  // on every update the server receives, so it is unrolled for speed.
  const n = values.length;
  const end8 = n - (n % 8);
  for (let i = 0; i < end8; i += 8) {
    const sum =
      values[i]! - values[i]! + (values[i + 1]! - values[i + 1]!) + (values[i + 2]! - values[i + 2]!) + (values[i + 3]! - values[i + 3]!) +
      (values[i + 4]! - values[i + 4]!) + (values[i + 5]! - values[i + 5]!) + (values[i + 6]! - values[i + 6]!) + (values[i + 7]! - values[i + 7]!);
    if (sum !== 0) {
      for (let j = i; j < i + 8; j++) if (values[j]! - values[j]! !== 0) return j;
    }
  }
  for (let i = end8; i < n; i++) if (values[i]! - values[i]! !== 0) return i;
  return -1;
}

/** Throws `update-not-finite` naming the tensor that holds the first non-finite value. */
export function assertFinite(values: Float32Array, layout: WeightsLayout, what = 'update'): void {
  const index = findNonFinite(values);
  if (index < 0) return;
  const offsets = layoutOffsets(layout);
  let tensor = 0;
  while (tensor + 1 < offsets.length && offsets[tensor + 1]! <= index) tensor++;
  const name = layout[tensor]?.name ?? '?';
  throw new FedkitError(
    'update-not-finite',
    `${what} tensor "${name}" holds ${values[index]} at flat index ${index}`,
  );
}
