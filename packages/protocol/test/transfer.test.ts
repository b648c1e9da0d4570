import { describe, expect, it } from 'vitest';
import { FedkitError } from '../src/errors.js';
import { chunkSchema, parseMessage } from '../src/messages.js';
import { TransferAssembler, splitTransfer } from '../src/transfer.js';

function bytesOf(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof FedkitError) return error.code;
    throw error;
  }
  throw new Error('expected a FedkitError');
}

describe('splitTransfer and TransferAssembler', () => {
  it('round-trips payloads of many sizes, including empty and exact multiples', () => {
    for (const size of [0, 1, 99, 100, 101, 1000, 6_653_480]) {
      const payload = bytesOf(size);
      const chunks = splitTransfer('t1', payload, 100_000);
      const assembler = new TransferAssembler();
      let complete = false;
      for (const chunk of chunks) complete = assembler.add(parseMessage(chunkSchema, chunk, 'chunk'));
      expect(complete).toBe(true);
      expect(Buffer.compare(assembler.take('t1'), payload)).toBe(0);
      expect(assembler.pendingCount).toBe(0);
    }
  });

  it('accepts chunks in any order', () => {
    const payload = bytesOf(1000);
    const chunks = splitTransfer('t', payload, 64).reverse();
    const assembler = new TransferAssembler();
    for (const chunk of chunks) assembler.add(chunk);
    expect(assembler.take('t')).toEqual(payload);
  });

  it('reports a missing chunk with its index when the transfer is taken', () => {
    const chunks = splitTransfer('t', bytesOf(1000), 100);
    const assembler = new TransferAssembler();
    for (const chunk of chunks) if (chunk.index !== 3) assembler.add(chunk);
    expect(() => assembler.take('t')).toThrow(/missing 1 of 10 chunks \(first: 3\)/);
  });

  it('rejects a corrupted chunk and poisons the transfer', () => {
    const chunks = splitTransfer('t', bytesOf(1000), 100);
    const assembler = new TransferAssembler();
    const bad = { ...chunks[2]!, data: chunks[2]!.data.slice() };
    bad.data[5] = bad.data[5]! ^ 0xff;
    assembler.add(chunks[0]!);
    expect(codeOf(() => assembler.add(bad))).toBe('chunk-checksum-mismatch');
    expect(codeOf(() => assembler.add(chunks[1]!))).toBe('chunk-checksum-mismatch');
    expect(codeOf(() => assembler.take('t'))).toBe('chunk-checksum-mismatch');
  });

  it('rejects duplicates, inconsistent headers, wrong lengths and oversized transfers', () => {
    const chunks = splitTransfer('t', bytesOf(1000), 100);
    const a = new TransferAssembler();
    a.add(chunks[0]!);
    expect(codeOf(() => a.add(chunks[0]!))).toBe('chunk-duplicate');

    const b = new TransferAssembler();
    b.add(chunks[0]!);
    expect(codeOf(() => b.add({ ...chunks[1]!, totalBytes: 999 }))).toBe('chunk-invalid');

    const c = new TransferAssembler();
    expect(codeOf(() => c.add({ ...chunks[0]!, data: chunks[0]!.data.subarray(0, 50) }))).toBe('chunk-invalid');

    const d = new TransferAssembler({ maxTransferBytes: 500 });
    expect(codeOf(() => d.add(chunks[0]!))).toBe('transfer-too-large');

    const e = new TransferAssembler({ maxChunkBytes: 50 });
    expect(codeOf(() => e.add(chunks[0]!))).toBe('chunk-invalid');
  });

  it('limits the number of concurrent transfers and reports unknown ones', () => {
    const assembler = new TransferAssembler({ maxPendingTransfers: 2 });
    assembler.add(splitTransfer('a', bytesOf(10), 4)[0]!);
    assembler.add(splitTransfer('b', bytesOf(10), 4)[0]!);
    expect(codeOf(() => assembler.add(splitTransfer('c', bytesOf(10), 4)[0]!))).toBe('transfer-too-large');
    expect(codeOf(() => assembler.take('zzz'))).toBe('transfer-unknown');
  });

  it('sweeps transfers older than the timeout', () => {
    let now = 1000;
    const assembler = new TransferAssembler({ timeoutMs: 100, now: () => now });
    assembler.add(splitTransfer('old', bytesOf(10), 4)[0]!);
    now = 1050;
    assembler.add(splitTransfer('new', bytesOf(10), 4)[0]!);
    now = 1120;
    expect(assembler.sweep()).toEqual(['old']);
    expect(assembler.pendingCount).toBe(1);
  });

  it('schema rejects a chunk whose count does not match its sizes', () => {
    const chunk = splitTransfer('t', bytesOf(1000), 100)[0]!;
    expect(() => parseMessage(chunkSchema, { ...chunk, count: 3 }, 'chunk')).toThrow(/field "count"/);
    expect(() => parseMessage(chunkSchema, { ...chunk, index: 10 }, 'chunk')).toThrow(/field "index"/);
  });
});
