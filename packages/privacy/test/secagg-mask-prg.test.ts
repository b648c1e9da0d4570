import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aes256CtrEncrypt, expandMask } from '../src/secagg/mask-prg.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));

describe('mask PRG (AES-256-CTR over WebCrypto)', () => {
  it('reproduces NIST SP 800-38A F.5.5 CTR-AES256.Encrypt', async () => {
    // NIST SP 800-38A (2001), Appendix F.5.5: https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38a.pdf
    const key = unhex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
    const counter = unhex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
    const plaintext = unhex(
      '6bc1bee22e409f96e93d7e117393172a' + 'ae2d8a571e03ac9c9eb76fac45af8e51' + '30c81c46a35ce411e5fbc1191a0a52ef' + 'f69f2445df4f9b17ad2b417be66c3710',
    );
    const ciphertext =
      '601ec313775789a5b7a7f504bbf3d228' + 'f443e3ca4d62b59aca84e990cacaf5c5' + '2b0930daa23de94ce87017ba2d84988d' + 'dfc9c58db67aada613c2dd08457941a6';
    expect(hex(await aes256CtrEncrypt(key, counter, plaintext))).toBe(ciphertext);
  });

  it('is the AES-256-CTR keystream from a zero counter block, read as little-endian words', async () => {
    const seed = unhex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const words = 3_000_000; // crosses the 4 MiB chunk boundary twice
    const expected = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16)).update(Buffer.alloc(words * 4));
    const mask = await expandMask(seed, words);
    expect(Buffer.from(mask.buffer, mask.byteOffset, mask.byteLength).equals(expected)).toBe(true);
    expect(mask[0]).toBe(expected.readUInt32LE(0));
  });

  it('is deterministic per seed and differs across seeds', async () => {
    const a = new Uint8Array(32).fill(1);
    const b = new Uint8Array(32).fill(2);
    expect(await expandMask(a, 100)).toEqual(await expandMask(a, 100));
    expect(await expandMask(a, 100)).not.toEqual(await expandMask(b, 100));
    expect((await expandMask(a, 1000)).subarray(0, 100)).toEqual(await expandMask(a, 100));
    expect(await expandMask(a, 0)).toHaveLength(0);
  });

  it('gives uniform words (χ² over the top byte, 255 degrees of freedom, p = 0.001 bound 330.5)', async () => {
    const mask = await expandMask(new Uint8Array(32).fill(7), 1 << 18);
    const bins = new Array<number>(256).fill(0);
    for (const word of mask) bins[word >>> 24]!++;
    const expected = mask.length / 256;
    expect(bins.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0)).toBeLessThan(330.5);
  });

  it('checks its arguments', async () => {
    await expect(expandMask(new Uint8Array(16), 4)).rejects.toThrow(RangeError);
    await expect(expandMask(new Uint8Array(32), -1)).rejects.toThrow(RangeError);
  });
});
