/**
 * Packed byte fields of the secure-aggregation messages: every Uint8Array becomes a slice
 * reference into one attachment, and untrusted references are checked before use.
 */
import { describe, expect, it } from 'vitest';
import { FedkitError, packBinaryFields, unpackBinaryFields } from '../src/index.js';

describe('packBinaryFields / unpackBinaryFields', () => {
  it('round-trips nested byte fields through one attachment', () => {
    const message = { kind: 'x', n: 3, key: new Uint8Array([1, 2, 3]), list: [{ to: 2, c: new Uint8Array([9, 8]) }, { to: 3, c: new Uint8Array(0) }] };
    const { payload, data } = packBinaryFields(message);
    expect(payload).toEqual({ kind: 'x', n: 3, key: { bin: [0, 3] }, list: [{ to: 2, c: { bin: [3, 2] } }, { to: 3, c: { bin: [5, 0] } }] });
    expect(Array.from(data)).toEqual([1, 2, 3, 9, 8]);
    expect(unpackBinaryFields(payload, data, 'm')).toEqual(message);
    // Browsers receive attachments as ArrayBuffer.
    expect(unpackBinaryFields(payload, data.slice().buffer, 'm')).toEqual(message);
  });

  it('refuses references outside the data, bad shapes and non-binary data', () => {
    const bad = (payload: unknown, data: unknown = new Uint8Array(4)) => () => unpackBinaryFields(payload, data, 'secagg-reply');
    for (const ref of [[2, 3], [-1, 1], [0.5, 1], [0], 'x']) {
      expect(bad({ key: { bin: ref } })).toThrow(FedkitError);
    }
    expect(bad({ key: { bin: [0, 5] } })).toThrow(/field "payload.key.bin"/);
    expect(bad({ key: { bin: [0, 1] } }, 'not binary')).toThrow(/field "data"/);
    let deep: unknown = { bin: [0, 1] };
    for (let i = 0; i < 10; i++) deep = { a: deep };
    expect(bad(deep)).toThrow(/nested too deeply/);
  });
});
