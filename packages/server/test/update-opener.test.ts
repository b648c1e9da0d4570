/**
 * The fast opener (node:crypto + libsodium) against the portable one (tweetnacl): known
 * answers for each fast primitive, then one conformance suite run against both openers
 * (every accepted and refused envelope of the issue's bad-input list, plus the edge cases
 * where Ed25519 and X25519 libraries disagree), then a differential run over random
 * mutations in which the two must give the same answer every time.
 */
import { FedkitError, seededRandomSource } from '@fedkit/protocol';
import {
  TWEETNACL_PRIMITIVES,
  createIdentityKeyPair,
  createRoundKeyring,
  createSeenNonces,
  openUpdate,
  sealUpdate,
  updateRejectionOf,
  updateTranscript,
  type IdentityKeyPair,
  type OpenUpdateOptions,
  type RoundKeyring,
  type UpdateEnvelope,
  type UpdateRejection,
} from '@fedkit/privacy/crypto';
import sodium from 'libsodium-wrappers';
import { describe, expect, it } from 'vitest';
import { createFastUpdateOpener, type FastUpdateOpener } from '../src/update-opener.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (byte) => parseInt(byte, 16));
const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

// Top-level await: the cases below are built at collection time and sign with libsodium.
const fast: FastUpdateOpener = await createFastUpdateOpener();

type Open = (envelope: unknown, options: OpenUpdateOptions) => Uint8Array;
const OPENERS: Record<string, () => Open> = {
  tweetnacl: () => openUpdate,
  fast: () => fast.open,
};

/** What opening gave: the plaintext's hex, or the rejection reason. */
function outcome(open: Open, envelope: unknown, options: OpenUpdateOptions): string {
  try {
    return `opened:${toHex(open(envelope, options))}`;
  } catch (error) {
    if (!(error instanceof FedkitError)) throw error;
    return `refused:${updateRejectionOf(error) ?? `code ${error.code}`}`;
  }
}

describe('fast primitives: known answers (sources in packages/privacy/test/crypto-kat.test.ts)', () => {
  it('SHA-512 of "abc" (FIPS 180-2 C.1)', () => {
    expect(toHex(fast.primitives.sha512(new TextEncoder().encode('abc')))).toBe(
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    );
  });

  it('Ed25519 verification of RFC 8032 §7.1 TEST 1 and TEST 2, and refusal with a flipped bit', () => {
    const vectors = [
      ['d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '', 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
      ['3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72', '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
    ] as const;
    for (const [publicKey, message, signature] of vectors) {
      expect(fast.primitives.verifyEd25519(hex(signature), hex(message), hex(publicKey))).toBe(true);
      const bad = hex(signature);
      bad[5]! ^= 0x10;
      expect(fast.primitives.verifyEd25519(bad, hex(message), hex(publicKey))).toBe(false);
    }
  });

  it('nacl.box: the NaCl crypto_box vector (libsodium test/default/box.c, box.exp) opens to its message', () => {
    const bobSk = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const alicePk = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    const nonce = hex('69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37');
    const ciphertext = hex(
      'f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5',
    );
    const sharedKey = fast.primitives.boxSharedKey(alicePk, bobSk)!;
    expect(toHex(sharedKey)).toBe(toHex(TWEETNACL_PRIMITIVES.boxSharedKey(alicePk, bobSk)!));
    expect(toHex(fast.primitives.boxOpenAfter(ciphertext, nonce, sharedKey)!)).toBe(
      'be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705',
    );
    const tampered = ciphertext.slice();
    tampered[40]! ^= 1;
    expect(fast.primitives.boxOpenAfter(tampered, nonce, sharedKey)).toBeNull();
    // libsodium test/default/box.c small_order_p: refused, as the tweetnacl primitives do.
    expect(fast.primitives.boxSharedKey(hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'), bobSk)).toBeNull();
  });
});

const ROUND = 12;
const CLIENT = 'client-a';

interface World {
  keyring: RoundKeyring;
  identity: IdentityKeyPair;
  options: () => OpenUpdateOptions;
  seal: (update: Uint8Array, overrides?: Partial<{ round: number; clientId: string; serverRoundKey: Uint8Array }>) => UpdateEnvelope;
}

function world(seed: number): World {
  const random = seededRandomSource(seed);
  const keyring = createRoundKeyring(ROUND, random);
  const identity = createIdentityKeyPair(random);
  return {
    keyring,
    identity,
    options: () => ({ round: ROUND, expectedClientId: CLIENT, clientIdentityKey: identity.publicKey, keyring, seenNonces: createSeenNonces(ROUND) }),
    seal: (update, overrides = {}) => sealUpdate(update, { round: ROUND, clientId: CLIENT, serverRoundKey: keyring.publicKey, identity, random, ...overrides }),
  };
}

/**
 * A correctly signed envelope around arbitrary box fields (for boxes `sealUpdate` refuses
 * to make), signed with libsodium: nacl.sign and libsodium share the 64-byte key format.
 */
function signedEnvelope(w: World, clientBoxPublicKey: Uint8Array, ciphertext: Uint8Array, nonce = new Uint8Array(24).fill(9)): UpdateEnvelope {
  const ciphertextDigest = TWEETNACL_PRIMITIVES.sha512(ciphertext);
  const transcript = updateTranscript({ round: ROUND, clientId: CLIENT, serverRoundKey: w.keyring.publicKey, clientBoxPublicKey, nonce, ciphertextDigest });
  return { round: ROUND, clientId: CLIENT, nonce, clientBoxPublicKey, ciphertext, signature: sodium.crypto_sign_detached(transcript, w.identity.secretKey) };
}

const L = (1n << 252n) + 27742317777372353535851937790883648493n;

function withScalarPlusL(signature: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!);
  s += L;
  const out = signature.slice();
  for (let i = 0; i < 32; i++) out[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
  return out;
}

interface Case {
  name: string;
  /** The plaintext, or the reason the envelope must be refused. */
  expected: Uint8Array | UpdateRejection;
  run: (open: Open) => string;
}

/** Every case, from a fixed seed; build the list once per opener (each case owns its nonce ledger). */
function cases(): Case[] {
  const w = world(2024);
  const update = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
  const good = w.seal(update);
  const flip = (bytes: Uint8Array, index: number): Uint8Array => {
    const copy = bytes.slice();
    copy[index]! ^= 0x01;
    return copy;
  };
  const other = world(7);
  const once = (envelope: unknown, options: OpenUpdateOptions = w.options()): Case['run'] => (open) => outcome(open, envelope, options);
  const list: Case[] = [
    { name: 'round trip', expected: update, run: once(good) },
    { name: 'empty update', expected: new Uint8Array(0), run: once(w.seal(new Uint8Array(0))) },
    { name: 'tampered tag byte', expected: 'signature-invalid', run: once({ ...good, ciphertext: flip(good.ciphertext, 3) }) },
    { name: 'tampered body byte', expected: 'signature-invalid', run: once({ ...good, ciphertext: flip(good.ciphertext, 2000) }) },
    { name: 'truncated ciphertext', expected: 'signature-invalid', run: once({ ...good, ciphertext: good.ciphertext.subarray(0, -1) }) },
    { name: 'ciphertext shorter than the tag', expected: 'malformed-envelope', run: once({ ...good, ciphertext: good.ciphertext.subarray(0, 15) }) },
    { name: 'signature by another identity key', expected: 'signature-invalid', run: once(good, { ...w.options(), clientIdentityKey: other.identity.publicKey }) },
    { name: 'signature with a flipped bit in R', expected: 'signature-invalid', run: once({ ...good, signature: flip(good.signature, 7) }) },
    { name: 'signature with a flipped bit in S', expected: 'signature-invalid', run: once({ ...good, signature: flip(good.signature, 40) }) },
    { name: 'malleated signature S + L (tweetnacl alone accepts it)', expected: 'signature-invalid', run: once({ ...good, signature: withScalarPlusL(good.signature) }) },
    {
      name: 'replayed envelope',
      expected: 'replayed-message',
      run: (open) => {
        const options = w.options();
        expect(outcome(open, good, options)).toBe(`opened:${toHex(update)}`);
        return outcome(open, good, options);
      },
    },
    { name: 'stale round', expected: 'stale-round', run: once(w.seal(update, { round: ROUND - 1 })) },
    { name: 'future round', expected: 'future-round', run: once(w.seal(update, { round: ROUND + 1 })) },
    { name: 'sealed to another round key (mis-addressed)', expected: 'signature-invalid', run: once(w.seal(update, { serverRoundKey: other.keyring.publicKey })) },
    {
      name: 'signed for this round key, boxed to another',
      expected: 'decryption-failed',
      run: once(
        (() => {
          const boxSecretKey = new Uint8Array(32).fill(3);
          const nonce = new Uint8Array(24).fill(4);
          const ciphertext = sodium.crypto_box_easy(update, nonce, other.keyring.publicKey, boxSecretKey);
          return signedEnvelope(w, sodium.crypto_scalarmult_base(boxSecretKey), ciphertext, nonce);
        })(),
      ),
    },
    {
      // libsodium refuses the key agreement; tweetnacl would complete it (with a shared key
      // anyone can compute), so the tweetnacl primitives refuse it explicitly.
      name: 'low-order client box key (libsodium test/default/box.c small_order_p)',
      expected: 'decryption-failed',
      run: once(signedEnvelope(w, hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'), new Uint8Array(update.length + 16))),
    },
    { name: 'all-zero client box key', expected: 'decryption-failed', run: once(signedEnvelope(w, new Uint8Array(32), new Uint8Array(100))) },
    {
      name: 'small-order identity key with a signature that verifies for every message in plain Ed25519',
      expected: 'signature-invalid',
      // R = identity point, S = 0: see the strict-rules tests in packages/privacy/test/crypto-kat.test.ts.
      run: once({ ...good, signature: hex('01' + '00'.repeat(63)) }, { ...w.options(), clientIdentityKey: hex('01' + '00'.repeat(31)) }),
    },
    {
      name: 'non-canonical identity key (y = p + 2)',
      expected: 'signature-invalid',
      run: once(good, { ...w.options(), clientIdentityKey: hex('ef' + 'ff'.repeat(30) + '7f') }),
    },
    { name: 'wrong sender', expected: 'wrong-sender', run: once(good, { ...w.options(), expectedClientId: 'client-b' }) },
    { name: 'nonce of 23 bytes', expected: 'malformed-envelope', run: once({ ...good, nonce: good.nonce.subarray(1) }) },
    { name: 'box key of 31 bytes', expected: 'malformed-envelope', run: once({ ...good, clientBoxPublicKey: good.clientBoxPublicKey.subarray(1) }) },
    { name: 'signature of 65 bytes', expected: 'malformed-envelope', run: once({ ...good, signature: new Uint8Array(65) }) },
    { name: 'round as a string', expected: 'malformed-envelope', run: once({ ...good, round: String(ROUND) }) },
    { name: 'not an object', expected: 'malformed-envelope', run: once(undefined) },
    {
      name: 'destroyed round key',
      expected: 'round-key-destroyed',
      run: (open) => {
        const fresh = world(99);
        const envelope = fresh.seal(update);
        const options = fresh.options();
        fresh.keyring.destroy();
        return outcome(open, envelope, options);
      },
    },
  ];
  return list;
}

describe.each(Object.keys(OPENERS))('update opener conformance: %s', (name) => {
  it.each(cases().map((c) => [c.name, c] as const))('%s', (_, c) => {
    const want = c.expected instanceof Uint8Array ? `opened:${toHex(c.expected)}` : `refused:${c.expected}`;
    expect(c.run(OPENERS[name]!())).toBe(want);
  });
});

describe('fast opener against tweetnacl', () => {
  it('opens a 4 MB update sealed by tweetnacl to the same bytes', () => {
    const w = world(4);
    const update = new Uint8Array(4 * 1024 * 1024);
    seededRandomSource(4).fillBytes(update);
    const envelope = w.seal(update);
    const opened = fast.open(envelope, w.options());
    expect(opened.length).toBe(update.length);
    expect(Buffer.compare(Buffer.from(opened), Buffer.from(update))).toBe(0);
  });

  it('gives the same answer as tweetnacl for 300 random mutations of a valid envelope', () => {
    const w = world(5);
    const random = seededRandomSource(6);
    const base = w.seal(Uint8Array.from({ length: 200 }, (_, i) => i));
    const pick = (n: number): number => Math.floor(random.nextFloat() * n);
    const fields = ['nonce', 'clientBoxPublicKey', 'ciphertext', 'signature', 'round', 'clientId', 'none'] as const;
    const seen = new Map<string, number>();
    for (let trial = 0; trial < 300; trial++) {
      const field = fields[pick(fields.length)]!;
      const envelope: Record<string, unknown> = { ...base };
      if (field === 'round') envelope['round'] = base.round + [-1, 1, 2 ** 32][pick(3)]!;
      else if (field === 'clientId') envelope['clientId'] = ['client-b', 'client-a ', ''][pick(3)];
      else if (field !== 'none') {
        const bytes = (base[field] as Uint8Array).slice();
        const how = pick(4);
        if (how === 0) envelope[field] = bytes.subarray(0, pick(bytes.length));
        else if (how === 1) envelope[field] = Uint8Array.from([...bytes, pick(256)]);
        else {
          const index = pick(bytes.length);
          bytes[index]! ^= 1 << pick(8);
          envelope[field] = bytes;
        }
      }
      const viaTweetnacl = outcome(openUpdate, envelope, w.options());
      const viaFast = outcome(fast.open, envelope, w.options());
      expect(viaFast, `trial ${trial} (${field})`).toBe(viaTweetnacl);
      const key = viaTweetnacl.startsWith('opened') ? 'opened' : viaTweetnacl;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    // The mutations reach every stage, not just the shape check.
    expect([...seen.keys()].sort()).toEqual(
      ['opened', 'refused:future-round', 'refused:malformed-envelope', 'refused:signature-invalid', 'refused:stale-round', 'refused:wrong-sender'].sort(),
    );
  });
});
