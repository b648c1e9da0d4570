/**
 * The bytes of one process's partial aggregate in Redis: a 4-byte header length, the JSON
 * header (kind, counts, metric sums, the clients folded in), zero padding to 8 bytes, then
 * the float64 sum. Binary, so a 1M-parameter partial is 8 MB rather than a JSON array.
 */
import { FedkitError } from '@fedkit/protocol';
import type { AccumulatorPartial } from '@fedkit/aggregation';
import { parseRecord, partialHeaderSchema } from './redis-records.js';

export interface EncodedPartial extends AccumulatorPartial {
  /** The clients whose replies are in the sum. */
  clients: string[];
}

export function encodePartial(partial: EncodedPartial): Buffer {
  const { sum, ...header } = partial;
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const offset = Math.ceil((4 + json.length) / 8) * 8;
  const out = Buffer.alloc(offset + sum.byteLength);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength).copy(out, offset);
  return out;
}

export function decodePartial(bytes: Buffer): EncodedPartial {
  if (bytes.length < 4) throw new FedkitError('state-corrupt', 'Redis holds an invalid partial sum: shorter than its header');
  const length = bytes.readUInt32LE(0);
  const offset = Math.ceil((4 + length) / 8) * 8;
  if (offset > bytes.length || (bytes.length - offset) % 8 !== 0) throw new FedkitError('state-corrupt', 'Redis holds an invalid partial sum: malformed header or sum');
  const header = parseRecord(partialHeaderSchema, bytes.subarray(4, 4 + length).toString('utf8'), 'partial sum header');
  // Copy: a Buffer's memory may sit at an offset not aligned for float64.
  const sum = new Float64Array((bytes.length - offset) / 8);
  Buffer.from(sum.buffer).set(bytes.subarray(offset));
  // One NaN or Infinity would silently ruin the global model.
  for (let i = 0; i < sum.length; i++) {
    if (!Number.isFinite(sum[i]!)) throw new FedkitError('state-corrupt', `Redis holds an invalid partial sum: coordinate ${i} is ${sum[i]}`);
  }
  return { ...header, sum };
}
