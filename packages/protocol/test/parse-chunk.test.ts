import { describe, expect, it } from 'vitest';
import { chunkSchema, parseChunk, parseMessage } from '../src/messages.js';

const valid = {
  transferId: 'u-phone-42-1-1',
  index: 2,
  count: 13,
  chunkBytes: 524_288,
  totalBytes: 6_653_480,
  crc32: 0xcbf43926,
  data: new Uint8Array(16),
};

/** The outcome of a parser: its value, or the error's class and message. */
function outcome(parse: () => unknown): unknown {
  try {
    return { value: parse() };
  } catch (error) {
    return { error: (error as Error).constructor.name, message: (error as Error).message };
  }
}

const badValues: unknown[] = [
  undefined, null, true, '3', -1, -0, 0, 1, 1.5, 12, 13, 14, 2 ** 32 - 1, 2 ** 32, Number.NaN, Number.POSITIVE_INFINITY,
  '', 'x', 'a b', 'x'.repeat(128), 'x'.repeat(129), 'ok:id@1.2_3-4', [], {}, new Uint8Array(3), new ArrayBuffer(5), Buffer.from('hi'),
];

describe('parseChunk', () => {
  it('gives exactly what parseMessage(chunkSchema) gives, for valid and invalid payloads', () => {
    const payloads: unknown[] = [valid, { ...valid, extra: 1 }, { ...valid, data: new ArrayBuffer(8) }, { ...valid, totalBytes: 0, count: 1, index: 0 }];
    for (const key of Object.keys(valid)) {
      for (const value of badValues) payloads.push({ ...valid, [key]: value });
      const without: Record<string, unknown> = { ...valid };
      delete without[key];
      payloads.push(without);
    }
    payloads.push(null, undefined, 5, 'chunk', [valid], Object.assign(Object.create({ inherited: true }) as object, valid), new Map());
    for (const payload of payloads) {
      const fast = outcome(() => parseChunk(payload));
      const schema = outcome(() => parseMessage(chunkSchema, payload, 'chunk'));
      expect(fast, JSON.stringify(payload, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.byteLength} bytes>` : v))).toEqual(schema);
    }
  });

  it('keeps a Uint8Array payload without copying and wraps an ArrayBuffer', () => {
    expect(parseChunk(valid).data).toBe(valid.data);
    const buffer = new ArrayBuffer(8);
    const parsed = parseChunk({ ...valid, data: buffer });
    expect(parsed.data).toBeInstanceOf(Uint8Array);
    expect(parsed.data.buffer).toBe(buffer);
  });
});
