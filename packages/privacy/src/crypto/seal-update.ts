/**
 * The client half of update encryption: box the update to the round's server key under a
 * fresh client key pair, and sign the transcript with the client's long-term identity key.
 * tweetnacl only, so it runs unchanged in browsers, Node and workers.
 */
import type { RandomSource } from '@fedkit/protocol';
import nacl from 'tweetnacl';
import { assertKeyBytes, bytesEqual, isAllZero } from './bytes.js';
import {
  BOX_PUBLIC_KEY_BYTES,
  BOX_SECRET_KEY_BYTES,
  IDENTITY_PUBLIC_KEY_BYTES,
  IDENTITY_SECRET_KEY_BYTES,
  MAX_CLIENT_ID_BYTES,
  NONCE_BYTES,
  clientIdBytes,
  type UpdateEnvelope,
} from './envelope.js';
import { updateTranscript } from './update-transcript.js';

/** A client's long-term Ed25519 key pair in nacl.sign's format. */
export interface IdentityKeyPair {
  /** 32 bytes; the server registers it for the client id. */
  readonly publicKey: Uint8Array;
  /** 64 bytes: seed ‖ public key. Never leaves the device. */
  readonly secretKey: Uint8Array;
}

/** Draws a new identity key pair from `random` (the platform CSPRNG in production). */
export function createIdentityKeyPair(random: RandomSource): IdentityKeyPair {
  const seed = new Uint8Array(nacl.sign.seedLength);
  random.fillBytes(seed);
  const pair = nacl.sign.keyPair.fromSeed(seed);
  seed.fill(0);
  return pair;
}

export interface SealUpdateOptions {
  /** The round the update answers. */
  readonly round: number;
  /** This client's registered id. */
  readonly clientId: string;
  /** The server's X25519 public key for `round` (32 bytes), from the round's train config. */
  readonly serverRoundKey: Uint8Array;
  /** This client's identity key pair. */
  readonly identity: IdentityKeyPair;
  /** Source of the nonce and the ephemeral box key: the platform CSPRNG in production. */
  readonly random: RandomSource;
}

/**
 * Encrypts and signs `update` for the server of `options.round`.
 *
 * Throws `TypeError`/`RangeError` for arguments of the wrong type, length or range, and
 * `RangeError` when `serverRoundKey` is a low-order point (every box to it would be readable
 * by anyone).
 *
 * @example
 * const envelope = sealUpdate(encodedUpdate, {
 *   round, clientId, serverRoundKey, identity, random: cryptoRandomSource(),
 * });
 */
export function sealUpdate(update: Uint8Array, options: SealUpdateOptions): UpdateEnvelope {
  if (!(update instanceof Uint8Array)) throw new TypeError('update must be a Uint8Array');
  const { round, clientId, serverRoundKey, identity, random } = options;
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError(`round must be a non-negative integer, got ${round}`);
  if (typeof clientId !== 'string') throw new TypeError('clientId must be a string');
  const idBytes = clientIdBytes(clientId).length;
  if (idBytes === 0 || idBytes > MAX_CLIENT_ID_BYTES) throw new RangeError(`clientId must be 1 to ${MAX_CLIENT_ID_BYTES} UTF-8 bytes, got ${idBytes}`);
  assertKeyBytes('serverRoundKey', serverRoundKey, BOX_PUBLIC_KEY_BYTES);
  assertKeyBytes('identity.publicKey', identity.publicKey, IDENTITY_PUBLIC_KEY_BYTES);
  assertKeyBytes('identity.secretKey', identity.secretKey, IDENTITY_SECRET_KEY_BYTES);
  if (!bytesEqual(identity.secretKey.subarray(32), identity.publicKey)) {
    throw new RangeError('identity.secretKey does not belong to identity.publicKey');
  }

  const boxSecretKey = new Uint8Array(BOX_SECRET_KEY_BYTES);
  random.fillBytes(boxSecretKey);
  const nonce = new Uint8Array(NONCE_BYTES);
  random.fillBytes(nonce);
  try {
    const shared = nacl.scalarMult(boxSecretKey, serverRoundKey);
    const degenerate = isAllZero(shared);
    shared.fill(0);
    if (degenerate) throw new RangeError('serverRoundKey is a low-order point: refusing to encrypt to it');
    const clientBoxPublicKey = nacl.box.keyPair.fromSecretKey(boxSecretKey).publicKey;
    const ciphertext = nacl.box(update, nonce, serverRoundKey, boxSecretKey);
    const transcript = updateTranscript({
      round,
      clientId,
      serverRoundKey,
      clientBoxPublicKey,
      nonce,
      ciphertextDigest: nacl.hash(ciphertext),
    });
    const signature = nacl.sign.detached(transcript, identity.secretKey);
    return { round, clientId, nonce, clientBoxPublicKey, ciphertext, signature };
  } finally {
    boxSecretKey.fill(0);
  }
}
