/**
 * Update envelopes with tweetnacl on both ends: the transcript's byte layout, sealing,
 * opening, and every way an envelope must be refused (STYLE §16a). The cross-opener
 * conformance suite (tweetnacl vs the server's fast opener) is in packages/server/test.
 */
import { FedkitError, PROTOCOL_VERSION, seededRandomSource, type RandomSource } from '@fedkit/protocol';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  TWEETNACL_PRIMITIVES,
  createIdentityKeyPair,
  createRoundKeyring,
  createSeenNonces,
  openUpdate,
  openUpdateWith,
  sealUpdate,
  updateRejectionOf,
  updateTranscript,
  type OpenUpdateOptions,
  type UpdateEnvelope,
  type UpdateRejection,
} from '../src/crypto/index.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (byte) => parseInt(byte, 16));
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const fill = (length: number, byte: number): Uint8Array => new Uint8Array(length).fill(byte);

const ROUND = 7;

function setup(seed = 1, clientId = 'client-a') {
  const random = seededRandomSource(seed);
  const keyring = createRoundKeyring(ROUND, random);
  const identity = createIdentityKeyPair(random);
  const update = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31 + seed) & 0xff);
  const envelope = sealUpdate(update, { round: ROUND, clientId, serverRoundKey: keyring.publicKey, identity, random });
  const options: OpenUpdateOptions = {
    round: ROUND,
    expectedClientId: clientId,
    clientIdentityKey: identity.publicKey,
    keyring,
    seenNonces: createSeenNonces(ROUND),
  };
  return { random, keyring, identity, update, envelope, options };
}

/** The error `fn` throws, checked to be a FedkitError with an update-rejection reason. */
function rejection(fn: () => unknown): { reason: UpdateRejection | undefined; error: FedkitError } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FedkitError);
    return { reason: updateRejectionOf(error), error: error as FedkitError };
  }
  throw new Error('expected a rejection, but the envelope opened');
}

function withField(envelope: UpdateEnvelope, field: keyof UpdateEnvelope, value: unknown): UpdateEnvelope {
  return { ...envelope, [field]: value } as UpdateEnvelope;
}

function flipped(bytes: Uint8Array, index: number, mask = 1): Uint8Array {
  const copy = bytes.slice();
  copy[index]! ^= mask;
  return copy;
}

describe('updateTranscript', () => {
  it('lays out the documented bytes: nine length-prefixed fields, 221 + n bytes', () => {
    const transcript = updateTranscript({
      round: 0x0102030405,
      clientId: 'ab',
      serverRoundKey: fill(32, 0x11),
      clientBoxPublicKey: fill(32, 0x22),
      nonce: fill(24, 0x33),
      ciphertextDigest: fill(64, 0x44),
    });
    const expected =
      '00000019' +
      toHex(new TextEncoder().encode('fedkit/update-envelope/v1')) +
      '00000004' +
      PROTOCOL_VERSION.toString(16).padStart(8, '0') +
      '00000008' +
      '0000000102030405' +
      '00000002' +
      '6162' +
      '00000020' +
      '11'.repeat(32) +
      '00000020' +
      '22'.repeat(32) +
      '00000018' +
      '33'.repeat(24) +
      '00000040' +
      '44'.repeat(64);
    expect(toHex(transcript)).toBe(expected);
    expect(transcript.length).toBe(221 + 2);
  });

  it('encodes the client id as UTF-8 and the largest safe round exactly', () => {
    const fields = { clientId: 'é', serverRoundKey: fill(32, 0), clientBoxPublicKey: fill(32, 0), nonce: fill(24, 0), ciphertextDigest: fill(64, 0) };
    const transcript = updateTranscript({ ...fields, round: Number.MAX_SAFE_INTEGER });
    expect(toHex(transcript.subarray(41, 49))).toBe('001fffffffffffff');
    expect(toHex(transcript.subarray(49, 55))).toBe('00000002c3a9');
    expect(() => updateTranscript({ ...fields, round: -1 })).toThrow(RangeError);
    expect(() => updateTranscript({ ...fields, round: 0, nonce: fill(23, 0) })).toThrow(RangeError);
  });
});

describe('sealUpdate', () => {
  it('boxes the update to the round key and signs the transcript with the identity key', () => {
    const { envelope, keyring, identity, update } = setup();
    expect(envelope.round).toBe(ROUND);
    expect(envelope.nonce.length).toBe(24);
    expect(envelope.clientBoxPublicKey.length).toBe(32);
    expect(envelope.signature.length).toBe(64);
    expect(envelope.ciphertext.length).toBe(update.length + 16);
    const transcript = updateTranscript({ ...envelope, serverRoundKey: keyring.publicKey, ciphertextDigest: nacl.hash(envelope.ciphertext) });
    expect(nacl.sign.detached.verify(transcript, envelope.signature, identity.publicKey)).toBe(true);
  });

  it('draws a fresh nonce and box key for every envelope', () => {
    const { keyring, identity, random } = setup();
    const seal = () => sealUpdate(new Uint8Array(8), { round: ROUND, clientId: 'c', serverRoundKey: keyring.publicKey, identity, random });
    const a = seal();
    const b = seal();
    expect(toHex(a.nonce)).not.toBe(toHex(b.nonce));
    expect(toHex(a.clientBoxPublicKey)).not.toBe(toHex(b.clientBoxPublicKey));
  });

  it('refuses bad arguments with TypeError or RangeError', () => {
    const { keyring, identity, random } = setup();
    const base = { round: ROUND, clientId: 'c', serverRoundKey: keyring.publicKey, identity, random };
    const update = new Uint8Array(4);
    expect(() => sealUpdate([1, 2] as unknown as Uint8Array, base)).toThrow(TypeError);
    expect(() => sealUpdate(update, { ...base, round: 1.5 })).toThrow(RangeError);
    expect(() => sealUpdate(update, { ...base, clientId: '' })).toThrow(RangeError);
    expect(() => sealUpdate(update, { ...base, serverRoundKey: fill(31, 1) })).toThrow(RangeError);
    expect(() => sealUpdate(update, { ...base, identity: { ...identity, publicKey: flipped(identity.publicKey, 0) } })).toThrow(/does not belong/);
    // libsodium test/default/box.c small_order_p, and the all-zero point.
    expect(() => sealUpdate(update, { ...base, serverRoundKey: hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800') })).toThrow(/low-order/);
    expect(() => sealUpdate(update, { ...base, serverRoundKey: fill(32, 0) })).toThrow(/low-order/);
  });
});

describe('openUpdate', () => {
  it('returns the sealed update, for empty and large updates too', () => {
    for (const length of [0, 1, 1000, 1 << 16]) {
      const { keyring, identity, random, options } = setup(length + 3);
      const update = new Uint8Array(length);
      random.fillBytes(update);
      const envelope = sealUpdate(update, { round: ROUND, clientId: 'client-a', serverRoundKey: keyring.publicKey, identity, random });
      expect(toHex(openUpdate(envelope, options))).toBe(toHex(update));
    }
  });

  it('refuses a tampered ciphertext byte (tag, body, last byte): the signature covers its hash', () => {
    const { envelope, options } = setup();
    for (const index of [0, 15, 16, 500, envelope.ciphertext.length - 1]) {
      expect(rejection(() => openUpdate(withField(envelope, 'ciphertext', flipped(envelope.ciphertext, index)), options)).reason).toBe('signature-invalid');
    }
  });

  it('refuses a truncated ciphertext, as unsigned above the tag length and as malformed below it', () => {
    const { envelope, options } = setup();
    expect(rejection(() => openUpdate(withField(envelope, 'ciphertext', envelope.ciphertext.subarray(0, -1)), options)).reason).toBe('signature-invalid');
    const short = rejection(() => openUpdate(withField(envelope, 'ciphertext', envelope.ciphertext.subarray(0, 15)), options));
    expect(short.reason).toBe('malformed-envelope');
    expect(short.error.code).toBe('invalid-message');
  });

  it('refuses a signature by another identity key, and one with a flipped bit', () => {
    const { envelope, options, random } = setup();
    const other = createIdentityKeyPair(random);
    expect(rejection(() => openUpdate(envelope, { ...options, clientIdentityKey: other.publicKey })).reason).toBe('signature-invalid');
    for (const index of [0, 31, 32, 63]) {
      expect(rejection(() => openUpdate(withField(envelope, 'signature', flipped(envelope.signature, index)), options)).reason).toBe('signature-invalid');
    }
  });

  it('refuses a signature whose fields were re-bound: another client box key or nonce', () => {
    const { envelope, options } = setup();
    expect(rejection(() => openUpdate(withField(envelope, 'nonce', flipped(envelope.nonce, 3)), options)).reason).toBe('signature-invalid');
    expect(rejection(() => openUpdate(withField(envelope, 'clientBoxPublicKey', flipped(envelope.clientBoxPublicKey, 3)), options)).reason).toBe(
      'signature-invalid',
    );
  });

  it('refuses a replayed envelope, and a new envelope that reuses a nonce, but not another client\'s nonce', () => {
    const { envelope, options, keyring, identity } = setup();
    openUpdate(envelope, options);
    const replay = rejection(() => openUpdate(envelope, options));
    expect(replay.reason).toBe('replayed-message');
    expect(replay.error.code).toBe('replayed-message');

    // A random source that hands out the first envelope's nonce again after a fresh box key.
    const scripted = (nonce: Uint8Array, seed: number): RandomSource => {
      const inner = seededRandomSource(seed);
      let calls = 0;
      return { ...inner, fillBytes: (bytes) => (calls++ === 1 ? bytes.set(nonce) : inner.fillBytes(bytes)) };
    };
    const again = sealUpdate(new Uint8Array([1, 2, 3]), { round: ROUND, clientId: 'client-a', serverRoundKey: keyring.publicKey, identity, random: scripted(envelope.nonce, 99) });
    expect(toHex(again.nonce)).toBe(toHex(envelope.nonce));
    expect(rejection(() => openUpdate(again, options)).reason).toBe('replayed-message');

    const otherIdentity = createIdentityKeyPair(seededRandomSource(5));
    const otherClient = sealUpdate(new Uint8Array([4]), { round: ROUND, clientId: 'client-b', serverRoundKey: keyring.publicKey, identity: otherIdentity, random: scripted(envelope.nonce, 98) });
    expect(openUpdate(otherClient, { ...options, expectedClientId: 'client-b', clientIdentityKey: otherIdentity.publicKey })).toEqual(new Uint8Array([4]));
    expect(options.seenNonces.size).toBe(2);
  });

  it('refuses an envelope for an earlier round as stale and a later one as not open, before checking its signature', () => {
    const { envelope, options } = setup();
    const stale = rejection(() => openUpdate(withField(envelope, 'round', ROUND - 1), options));
    expect(stale.reason).toBe('stale-round');
    expect(stale.error.code).toBe('round-closed');
    const future = rejection(() => openUpdate(withField(envelope, 'round', ROUND + 1), options));
    expect(future.reason).toBe('future-round');
    expect(future.error.code).toBe('round-not-open');
  });

  it('refuses an envelope sealed for the same round under another server key (mis-addressed)', () => {
    const { keyring, identity, options, random } = setup();
    const otherKeyring = createRoundKeyring(ROUND, random);
    expect(toHex(otherKeyring.publicKey)).not.toBe(toHex(keyring.publicKey));
    const misaddressed = sealUpdate(new Uint8Array(10), { round: ROUND, clientId: 'client-a', serverRoundKey: otherKeyring.publicKey, identity, random });
    expect(rejection(() => openUpdate(misaddressed, options)).reason).toBe('signature-invalid');
  });

  it('refuses, as decryption-failed, an envelope signed for this round\'s key but boxed to another', () => {
    const { keyring, identity, options, random } = setup();
    const otherKeyring = createRoundKeyring(ROUND, random);
    const box = nacl.box.keyPair();
    const nonce = nacl.randomBytes(24);
    const ciphertext = nacl.box(new Uint8Array(10), nonce, otherKeyring.publicKey, box.secretKey);
    const transcript = updateTranscript({
      round: ROUND,
      clientId: 'client-a',
      serverRoundKey: keyring.publicKey,
      clientBoxPublicKey: box.publicKey,
      nonce,
      ciphertextDigest: nacl.hash(ciphertext),
    });
    const envelope = { round: ROUND, clientId: 'client-a', nonce, clientBoxPublicKey: box.publicKey, ciphertext, signature: nacl.sign.detached(transcript, identity.secretKey) };
    expect(rejection(() => openUpdate(envelope, options)).reason).toBe('decryption-failed');
  });

  it('refuses an envelope that names another client than the connection it came from', () => {
    const { envelope, options } = setup();
    expect(rejection(() => openUpdate(envelope, { ...options, expectedClientId: 'client-b' })).reason).toBe('wrong-sender');
  });

  it('refuses malformed fields with malformed-envelope, naming the field', () => {
    const { envelope, options } = setup();
    const cases: [keyof UpdateEnvelope, unknown, RegExp][] = [
      ['nonce', envelope.nonce.subarray(0, 23), /nonce must be 24 bytes, got 23/],
      ['nonce', Array.from(envelope.nonce), /nonce must be a Uint8Array, got Array/],
      ['clientBoxPublicKey', new Uint8Array(33), /clientBoxPublicKey must be 32 bytes/],
      ['signature', envelope.signature.subarray(0, 63), /signature must be 64 bytes/],
      ['ciphertext', undefined, /ciphertext must be a Uint8Array, got undefined/],
      ['round', -1, /round must be a non-negative integer/],
      ['round', 7.5, /round must be a non-negative integer/],
      ['round', '7', /round must be a non-negative integer, got string/],
      ['clientId', '', /clientId must be 1 to 256 UTF-8 bytes/],
      ['clientId', 'x'.repeat(257), /clientId must be 1 to 256 UTF-8 bytes/],
      ['clientId', 42, /clientId must be a string/],
    ];
    for (const [field, value, message] of cases) {
      const { reason, error } = rejection(() => openUpdate(withField(envelope, field, value), options));
      expect(reason).toBe('malformed-envelope');
      expect(error.message).toMatch(message);
    }
    expect(rejection(() => openUpdate(null, options)).reason).toBe('malformed-envelope');
    expect(rejection(() => openUpdate('envelope', options)).reason).toBe('malformed-envelope');
  });

  it('refuses every envelope once the round key pair is destroyed', () => {
    const { envelope, options, keyring } = setup();
    keyring.destroy();
    expect(keyring.destroyed).toBe(true);
    const { reason, error } = rejection(() => openUpdate(envelope, options));
    expect(reason).toBe('round-key-destroyed');
    expect(error.code).toBe('round-closed');
    expect(() => keyring.withSecretKey((secretKey) => secretKey)).toThrow(FedkitError);
  });

  it('refuses options that do not belong together with RangeError', () => {
    const { envelope, options, random } = setup();
    expect(() => openUpdate(envelope, { ...options, keyring: createRoundKeyring(ROUND + 1, random) })).toThrow(RangeError);
    expect(() => openUpdate(envelope, { ...options, seenNonces: createSeenNonces(ROUND + 1) })).toThrow(RangeError);
    expect(() => openUpdate(envelope, { ...options, clientIdentityKey: new Uint8Array(31) })).toThrow(RangeError);
  });

  it('never reaches key agreement or decryption for an envelope that fails the round, signature or nonce checks', () => {
    const { envelope, options, random } = setup();
    const calls: string[] = [];
    const spied = {
      ...TWEETNACL_PRIMITIVES,
      boxSharedKey: (pk: Uint8Array, sk: Uint8Array) => (calls.push('boxSharedKey'), TWEETNACL_PRIMITIVES.boxSharedKey(pk, sk)),
      boxOpenAfter: (c: Uint8Array, n: Uint8Array, k: Uint8Array) => (calls.push('boxOpenAfter'), TWEETNACL_PRIMITIVES.boxOpenAfter(c, n, k)),
    };
    const open = (e: unknown, o: OpenUpdateOptions = options) => rejection(() => openUpdateWith(spied, e, o));
    open(withField(envelope, 'round', ROUND - 1));
    open(withField(envelope, 'ciphertext', flipped(envelope.ciphertext, 20)));
    open(envelope, { ...options, clientIdentityKey: createIdentityKeyPair(random).publicKey });
    expect(calls).toEqual([]);
    openUpdateWith(spied, envelope, options);
    expect(calls).toEqual(['boxSharedKey', 'boxOpenAfter']);
    open(envelope);
    expect(calls).toHaveLength(2);
  });
});

describe('createRoundKeyring', () => {
  it('derives the public key from a secret drawn from the random source, and zeroes it on destroy', () => {
    const keyring = createRoundKeyring(3, seededRandomSource(42));
    const secret = new Uint8Array(32);
    seededRandomSource(42).fillBytes(secret);
    expect(toHex(keyring.publicKey)).toBe(toHex(nacl.box.keyPair.fromSecretKey(secret).publicKey));
    let lent: Uint8Array | undefined;
    keyring.withSecretKey((secretKey) => (lent = secretKey));
    keyring.destroy();
    expect(lent!.every((b) => b === 0)).toBe(true);
  });

  it('hands out copies of the public key', () => {
    const keyring = createRoundKeyring(3, seededRandomSource(1));
    keyring.publicKey.fill(0);
    expect(keyring.publicKey.some((b) => b !== 0)).toBe(true);
  });
});
