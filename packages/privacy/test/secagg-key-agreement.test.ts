import { seededRandomSource, type FedkitError } from '@fedkit/protocol';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  deriveSeed,
  generateX25519KeyPair,
  pairwiseMaskSeed,
  shareBoxKey,
  x25519,
  x25519PublicKey,
} from '../src/secagg/key-agreement.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));

describe('X25519 key agreement', () => {
  // Known answer: RFC 7748 §6.1 (Curve25519 Diffie–Hellman example), Alice and Bob.
  // https://www.rfc-editor.org/rfc/rfc7748#section-6.1
  const alicePrivate = unhex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const alicePublic = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  const bobPrivate = unhex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const bobPublic = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

  it('reproduces the RFC 7748 §6.1 public keys', () => {
    expect(hex(x25519PublicKey(alicePrivate))).toBe(alicePublic);
    expect(hex(x25519PublicKey(bobPrivate))).toBe(bobPublic);
    expect(hex(nacl.box.keyPair.fromSecretKey(alicePrivate).publicKey)).toBe(alicePublic);
  });

  it('reproduces the RFC 7748 §6.1 shared secret from both sides', () => {
    expect(hex(x25519(alicePrivate, unhex(bobPublic)))).toBe(shared);
    expect(hex(x25519(bobPrivate, unhex(alicePublic)))).toBe(shared);
  });

  it('refuses a low-order public key (all-zero shared secret) with secagg-key-invalid', () => {
    for (const point of [new Uint8Array(32), Uint8Array.of(1, ...new Array<number>(31).fill(0))]) {
      try {
        x25519(alicePrivate, point);
        expect.unreachable();
      } catch (error) {
        expect((error as FedkitError).code).toBe('secagg-key-invalid');
      }
    }
  });

  it('draws key pairs from the injected random source only', () => {
    const a = generateX25519KeyPair(seededRandomSource(1));
    const b = generateX25519KeyPair(seededRandomSource(1));
    expect(a).toEqual(b);
    expect(a.publicKey).toEqual(x25519PublicKey(a.secretKey));
  });

  it('derives the same pairwise seeds on both sides, bound to purpose, round and ids', () => {
    const random = seededRandomSource(2);
    const u = generateX25519KeyPair(random);
    const v = generateX25519KeyPair(random);
    const pu = { id: 3, publicKey: u.publicKey };
    const pv = { id: 9, publicKey: v.publicKey };
    const seed = pairwiseMaskSeed(u.secretKey, pu, pv, 5);
    expect(seed).toHaveLength(32);
    expect(pairwiseMaskSeed(v.secretKey, pv, pu, 5)).toEqual(seed);
    expect(pairwiseMaskSeed(u.secretKey, pu, pv, 6)).not.toEqual(seed);
    expect(shareBoxKey(u.secretKey, pu, pv, 5)).not.toEqual(seed);
    expect(pairwiseMaskSeed(u.secretKey, { ...pu, id: 4 }, pv, 5)).not.toEqual(seed);
  });

  it('KDF is SHA-512(len(label) ‖ label ‖ context ‖ secret) truncated to 32 bytes', () => {
    const secret = unhex(shared);
    const label = new TextEncoder().encode('test');
    const expected = nacl.hash(Uint8Array.from([label.length, ...label, 1, 2, ...secret])).slice(0, 32);
    expect(deriveSeed(secret, 'test', Uint8Array.of(1, 2))).toEqual(expected);
  });
});
