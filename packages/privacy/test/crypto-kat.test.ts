/**
 * Known-answer tests for the primitives the update envelope relies on, through tweetnacl
 * (what clients run and what `openUpdate` uses). Each vector names its source; the server's
 * fast primitives are checked against the same vectors in packages/server/test.
 */
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { ORDER_8_Y, isCanonicalScalar, weakPointReason } from '../src/crypto/ed25519-strict.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (byte) => parseInt(byte, 16));
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

// FIPS 180-2, Appendix C.1 (SHA-512 of "abc"); also NIST CSRC "SHA512.pdf" example.
const SHA512_ABC =
  'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f';

// RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
const RFC8032_TEST1 = {
  seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  message: '',
  signature:
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
};
const RFC8032_TEST2 = {
  seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
  publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
  message: '72',
  signature:
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
};

// RFC 7748 §6.1: Alice's and Bob's X25519 keys and their shared secret. The same keys are
// NaCl's box test keys (nacl-20110221 tests/box.c, box2.c; libsodium test/default/box.c).
const ALICE_SK = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const ALICE_PK = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const BOB_SK = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb';
const BOB_PK = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const SHARED_SECRET = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

// NaCl crypto_box vector: libsodium test/default/box.c (message m after its 32 zero bytes,
// nonce) and box.exp (c after its 16 zero bytes), from nacl-20110221 tests/box.c.
// nacl.box's output is the 16-byte Poly1305 tag followed by the ciphertext, i.e. box.exp.
const BOX_NONCE = '69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37';
const BOX_MESSAGE =
  'be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705';
const BOX_CIPHERTEXT =
  'f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5';
// libsodium test/default/box.c `small_order_p`: a low-order X25519 point.
const SMALL_ORDER_X25519 = 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800';

describe('SHA-512 (nacl.hash)', () => {
  it('matches FIPS 180-2 for "abc"', () => {
    expect(toHex(nacl.hash(new TextEncoder().encode('abc')))).toBe(SHA512_ABC);
  });
});

describe('Ed25519 (nacl.sign)', () => {
  for (const [name, vector] of [
    ['TEST 1', RFC8032_TEST1],
    ['TEST 2', RFC8032_TEST2],
  ] as const) {
    it(`derives the key and signature of RFC 8032 §7.1 ${name}`, () => {
      const pair = nacl.sign.keyPair.fromSeed(hex(vector.seed));
      expect(toHex(pair.publicKey)).toBe(vector.publicKey);
      expect(toHex(nacl.sign.detached(hex(vector.message), pair.secretKey))).toBe(vector.signature);
      expect(nacl.sign.detached.verify(hex(vector.message), hex(vector.signature), hex(vector.publicKey))).toBe(true);
    });
  }

  it('rejects RFC 8032 TEST 1 with one flipped bit in the message, the signature or the key', () => {
    const { publicKey, signature } = RFC8032_TEST1;
    expect(nacl.sign.detached.verify(hex('00'), hex(signature), hex(publicKey))).toBe(false);
    const badSignature = hex(signature);
    badSignature[10]! ^= 1;
    expect(nacl.sign.detached.verify(new Uint8Array(0), badSignature, hex(publicKey))).toBe(false);
    const badKey = hex(publicKey);
    badKey[0]! ^= 1;
    expect(nacl.sign.detached.verify(new Uint8Array(0), hex(signature), badKey)).toBe(false);
  });
});

describe('X25519 and nacl.box', () => {
  it('computes the public keys and shared secret of RFC 7748 §6.1', () => {
    expect(toHex(nacl.scalarMult.base(hex(ALICE_SK)))).toBe(ALICE_PK);
    expect(toHex(nacl.scalarMult.base(hex(BOB_SK)))).toBe(BOB_PK);
    expect(toHex(nacl.scalarMult(hex(ALICE_SK), hex(BOB_PK)))).toBe(SHARED_SECRET);
    expect(toHex(nacl.scalarMult(hex(BOB_SK), hex(ALICE_PK)))).toBe(SHARED_SECRET);
  });

  it('reproduces the NaCl crypto_box vector, and opens it on the other side', () => {
    expect(toHex(nacl.box(hex(BOX_MESSAGE), hex(BOX_NONCE), hex(BOB_PK), hex(ALICE_SK)))).toBe(BOX_CIPHERTEXT);
    const sharedKey = nacl.box.before(hex(BOB_PK), hex(ALICE_SK));
    expect(toHex(nacl.box.after(hex(BOX_MESSAGE), hex(BOX_NONCE), sharedKey))).toBe(BOX_CIPHERTEXT);
    expect(toHex(nacl.box.open(hex(BOX_CIPHERTEXT), hex(BOX_NONCE), hex(ALICE_PK), hex(BOB_SK))!)).toBe(BOX_MESSAGE);
  });

  it('gives an all-zero X25519 output for libsodium\'s small-order point (which openers must refuse)', () => {
    expect(Array.from(nacl.scalarMult(hex(ALICE_SK), hex(SMALL_ORDER_X25519))).every((b) => b === 0)).toBe(true);
  });
});

describe('strict Ed25519 rules', () => {
  const P = (1n << 255n) - 19n;
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  const mod = (a: bigint): bigint => ((a % P) + P) % P;
  const pow = (base: bigint, exponent: bigint): bigint => {
    let result = 1n;
    let b = mod(base);
    for (let e = exponent; e > 0n; e >>= 1n) {
      if (e & 1n) result = (result * b) % P;
      b = (b * b) % P;
    }
    return result;
  };
  const littleEndian = (value: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn));

  it('uses the y of the order-8 points: the root of d·y⁴ + 2y² − 1 (RFC 8032 §5.1: d = −121665/121666)', () => {
    const d = mod(-121665n * pow(121666n, P - 2n));
    expect(mod(d * pow(ORDER_8_Y, 4n) + 2n * ORDER_8_Y * ORDER_8_Y - 1n)).toBe(0n);
  });

  it('refuses non-canonical and small-order encodings, with either x sign, and accepts real keys', () => {
    for (const y of [0n, 1n, P - 1n, ORDER_8_Y, P - ORDER_8_Y]) {
      for (const sign of [0, 0x80]) {
        const encoding = littleEndian(y);
        encoding[31]! |= sign;
        expect(weakPointReason(encoding)).toMatch(/small order/);
      }
    }
    expect(weakPointReason(littleEndian(P))).toMatch(/canonical/);
    expect(weakPointReason(littleEndian(P + 2n))).toMatch(/canonical/);
    expect(weakPointReason(hex(RFC8032_TEST1.publicKey))).toBeNull();
    expect(weakPointReason(hex(RFC8032_TEST1.signature).subarray(0, 32))).toBeNull();
  });

  it('accepts S < L only', () => {
    expect(isCanonicalScalar(littleEndian(L - 1n))).toBe(true);
    expect(isCanonicalScalar(littleEndian(L))).toBe(false);
    expect(isCanonicalScalar(littleEndian((1n << 256n) - 1n))).toBe(false);
    expect(isCanonicalScalar(hex(RFC8032_TEST1.signature).subarray(32))).toBe(true);
  });

  it('matters: tweetnacl alone accepts a small-order key whose signature (R = identity, S = 0) verifies for every message', () => {
    const identityPoint = hex('01' + '00'.repeat(31));
    const universal = hex('01' + '00'.repeat(63));
    for (const message of [new Uint8Array(0), new Uint8Array([1, 2, 3])]) {
      expect(nacl.sign.detached.verify(message, universal, identityPoint)).toBe(true);
    }
    expect(weakPointReason(identityPoint)).toMatch(/small order/);
  });

  it('matters: tweetnacl alone accepts RFC 8032 TEST 1 with S replaced by S + L', () => {
    const signature = hex(RFC8032_TEST1.signature);
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!);
    signature.set(littleEndian(s + L), 32);
    expect(nacl.sign.detached.verify(new Uint8Array(0), signature, hex(RFC8032_TEST1.publicKey))).toBe(true);
    expect(isCanonicalScalar(signature.subarray(32))).toBe(false);
  });
});
