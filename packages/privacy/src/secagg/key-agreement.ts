/**
 * X25519 key agreement (tweetnacl) and the KDF that turns a shared secret into a 32-byte
 * seed. Two neighbours derive the same pairwise-mask seed from their own secret key and the
 * other's public key; after a drop-out the server derives it too, from the dropped client's
 * reconstructed secret key and the survivor's public key.
 *
 * KDF: SHA-512 (`nacl.hash`, synchronous, in every runtime) over a length-prefixed label,
 * a context and the raw X25519 output, truncated to 32 bytes. The raw output is a curve
 * coordinate, not uniform bits, so it is always hashed before use; hashing it together with
 * both public keys and the round follows libsodium's `crypto_kx` (BLAKE2b over q ‖ pk₁ ‖ pk₂).
 * HKDF-SHA256 would do as well, but WebCrypto only offers it asynchronously.
 */
import type { RandomSource } from '@fedkit/protocol';
import nacl from 'tweetnacl';
import { assertBytes, concatBytes, uint32Bytes } from './bytes.js';
import { secAggError } from './errors.js';

/** Bytes of an X25519 public key, secret key, shared secret and derived seed. */
export const X25519_BYTES = 32;
/** Bytes of a derived seed (an AES-256 key for the mask PRG). */
export const SEED_BYTES = 32;

export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** A fresh key pair whose secret comes from `random` (never tweetnacl's own PRNG). */
export function generateX25519KeyPair(random: RandomSource): X25519KeyPair {
  const secretKey = new Uint8Array(X25519_BYTES);
  random.fillBytes(secretKey);
  return { secretKey, publicKey: x25519PublicKey(secretKey) };
}

/** The public key X25519(secretKey, 9). */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  assertBytes('secretKey', secretKey, X25519_BYTES);
  return nacl.scalarMult.base(secretKey);
}

/**
 * The raw X25519 shared secret. Throws `FedkitError('secagg-key-invalid')` when it is all
 * zeros, which happens exactly when `publicKey` is a low-order point (RFC 7748 §6.1).
 */
export function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  assertBytes('secretKey', secretKey, X25519_BYTES);
  assertBytes('publicKey', publicKey, X25519_BYTES);
  const shared = nacl.scalarMult(secretKey, publicKey);
  let bits = 0;
  for (const byte of shared) bits |= byte;
  if (bits === 0) throw secAggError('secagg-key-invalid', 'X25519 gave the all-zero secret: the public key is a low-order point');
  return shared;
}

/**
 * SHA-512(len(label) ‖ label ‖ context ‖ sharedSecret)[0..32]: a uniform 32-byte seed bound
 * to its purpose (`label`) and to everything in `context`.
 */
export function deriveSeed(sharedSecret: Uint8Array, label: string, context: Uint8Array): Uint8Array {
  assertBytes('sharedSecret', sharedSecret);
  assertBytes('context', context);
  const labelBytes = new TextEncoder().encode(label);
  if (labelBytes.length > 255) throw new RangeError(`label must be at most 255 bytes, got ${labelBytes.length}`);
  const digest = nacl.hash(concatBytes(Uint8Array.of(labelBytes.length), labelBytes, context, sharedSecret));
  return digest.slice(0, SEED_BYTES);
}

/** One side of a pairwise agreement: a client's id and the public key used for it. */
export interface PairwiseParty {
  readonly id: number;
  readonly publicKey: Uint8Array;
}

/**
 * The seed `me` and `peer` share for `purpose` in `round`: both sides (and the server,
 * holding either secret key) get the same 32 bytes, because the context lists the two
 * parties in id order whichever side computes it.
 */
function pairwiseSeed(purpose: string, secretKey: Uint8Array, me: PairwiseParty, peer: PairwiseParty, round: number): Uint8Array {
  if (me.id === peer.id) throw new RangeError(`a pairwise seed needs two parties, got id ${me.id} twice`);
  const [low, high] = me.id < peer.id ? [me, peer] : [peer, me];
  const context = concatBytes(uint32Bytes(round), uint32Bytes(low.id), uint32Bytes(high.id), low.publicKey, high.publicKey);
  return deriveSeed(x25519(secretKey, peer.publicKey), `fedkit/secagg/${purpose}/v1`, context);
}

/**
 * The pairwise-mask seed s_uv from the mask keys (the PRG expands it into the mask).
 *
 * @example
 * const seed = pairwiseMaskSeed(myMaskSecret, { id: 3, publicKey: myMaskPk }, { id: 7, publicKey: theirMaskPk }, round);
 */
export function pairwiseMaskSeed(secretKey: Uint8Array, me: PairwiseParty, peer: PairwiseParty, round: number): Uint8Array {
  return pairwiseSeed('pairwise-mask', secretKey, me, peer, round);
}

/**
 * The nacl.secretbox key for share envelopes between `me` and `peer`, from the cipher keys.
 * This is nacl.box's construction (X25519, then XSalsa20-Poly1305) with the key drawn
 * through `deriveSeed`, so that a low-order public key is refused and the key is bound to
 * the round and both ids; `nacl.box.before` would accept the former silently.
 */
export function shareBoxKey(secretKey: Uint8Array, me: PairwiseParty, peer: PairwiseParty, round: number): Uint8Array {
  return pairwiseSeed('share-box', secretKey, me, peer, round);
}
