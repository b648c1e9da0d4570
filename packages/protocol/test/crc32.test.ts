import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/crc32.js';

describe('crc32', () => {
  it('matches the CRC-32/ISO-HDLC check value (reveng catalogue: "123456789" → 0xCBF43926)', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('is 0 for no bytes', () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('agrees with node:zlib crc32 on random buffers of every length mod 8', () => {
    for (let length = 0; length < 40; length++) {
      const bytes = new Uint8Array(length * 37 + 3);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
      expect(crc32(bytes)).toBe(zlibCrc32(bytes));
    }
  });
});
