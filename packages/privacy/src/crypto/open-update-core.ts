/**
 * The server half of update encryption, written once over pluggable primitives so that the
 * portable tweetnacl opener and the server's fast opener (libsodium + node:crypto) run the
 * same checks in the same order and therefore accept and refuse the same envelopes:
 *
 * 1. shape: every field present with its exact length (`malformed-envelope`);
 * 2. round: the envelope's round is the one being collected (`stale-round`, `future-round`),
 *    and its key pair still exists (`round-key-destroyed`);
 * 3. sender: the envelope names the client it arrived from (`wrong-sender`);
 * 4. signature: strict Ed25519 rules, then the signature over the transcript with the
 *    client's registered identity key (`signature-invalid`);
 * 5. nonce: not seen from this client in this round (`replayed-message`), then recorded;
 * 6. only now decryption (`decryption-failed`).
 *
 * Nothing is decrypted before the signature verifies, so a forged envelope costs a hash and
 * a signature check, never a key agreement or a decryption.
 */
import type { FedkitError } from '@fedkit/protocol';
import { assertKeyBytes } from './bytes.js';
import { checkEnvelopeShape, IDENTITY_PUBLIC_KEY_BYTES } from './envelope.js';
import { strictSignatureProblem } from './ed25519-strict.js';
import { rejectUpdate } from './errors.js';
import type { RoundKeyring } from './round-keyring.js';
import type { SeenNonces } from './seen-nonces.js';
import { CIPHERTEXT_DIGEST_BYTES, updateTranscript } from './update-transcript.js';

/** What the server knows when an envelope arrives. */
export interface OpenUpdateOptions {
  /** The round being collected. */
  readonly round: number;
  /** The client the envelope arrived from (the connection's authenticated id). */
  readonly expectedClientId: string;
  /** That client's registered Ed25519 identity public key (32 bytes). */
  readonly clientIdentityKey: Uint8Array;
  /** The key pair of `round`. */
  readonly keyring: RoundKeyring;
  /** The nonces accepted so far in `round`; the opener records the envelope's nonce. */
  readonly seenNonces: SeenNonces;
}

/**
 * The primitives an opener plugs in. Each must be byte-compatible with tweetnacl's; the
 * test suite runs every opener against the same envelopes.
 */
export interface OpenUpdatePrimitives {
  /** SHA-512 of `bytes` (64 bytes). */
  sha512(bytes: Uint8Array): Uint8Array;
  /**
   * Cofactorless Ed25519 verification (RFC 8032 §5.1.7 without the cofactor). Called only
   * on inputs that passed `strictSignatureProblem`.
   */
  verifyEd25519(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  /** nacl.box.before: HSalsa20 of the X25519 output, or `null` when that output is all zeros. */
  boxSharedKey(theirPublicKey: Uint8Array, mySecretKey: Uint8Array): Uint8Array | null;
  /** nacl.box.open.after: the plaintext, or `null` when the Poly1305 tag does not verify. */
  boxOpenAfter(ciphertext: Uint8Array, nonce: Uint8Array, sharedKey: Uint8Array): Uint8Array | null;
}

/**
 * Opens `envelope` with `primitives`, running the checks listed in this module's header in
 * order. Returns the update's bytes; throws a `FedkitError` whose `details.reason` is an
 * `UpdateRejection` for a refused envelope, and `TypeError`/`RangeError` for options that
 * do not fit together (a keyring or nonce ledger of another round, a key of the wrong size).
 */
export function openUpdateWith(primitives: OpenUpdatePrimitives, envelope: unknown, options: OpenUpdateOptions): Uint8Array {
  const { round, expectedClientId, clientIdentityKey, keyring, seenNonces } = options;
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError(`round must be a non-negative integer, got ${round}`);
  if (typeof expectedClientId !== 'string') throw new TypeError('expectedClientId must be a string');
  assertKeyBytes('clientIdentityKey', clientIdentityKey, IDENTITY_PUBLIC_KEY_BYTES);
  if (keyring.round !== round) throw new RangeError(`keyring belongs to round ${keyring.round}, not round ${round}`);
  if (seenNonces.round !== round) throw new RangeError(`seenNonces belongs to round ${seenNonces.round}, not round ${round}`);

  const checked = checkEnvelopeShape(envelope);
  if (checked.round < round) {
    throw rejectUpdate('stale-round', `update for round ${checked.round} arrived while collecting round ${round}`, { round: checked.round });
  }
  if (checked.round > round) {
    throw rejectUpdate('future-round', `update for round ${checked.round} arrived while collecting round ${round}`, { round: checked.round });
  }
  if (keyring.destroyed) {
    throw rejectUpdate('round-key-destroyed', `update for round ${round} arrived after the round's key pair was destroyed`, { round });
  }
  if (checked.clientId !== expectedClientId) {
    throw rejectUpdate('wrong-sender', `update envelope names client "${checked.clientId}" but arrived from client "${expectedClientId}"`);
  }
  const serverRoundKey = keyring.publicKey;

  const who = `client "${expectedClientId}"`;
  const weakness = strictSignatureProblem(clientIdentityKey, checked.signature);
  if (weakness !== null) throw rejectUpdate('signature-invalid', `update signature of ${who} refused: ${weakness}`);
  const ciphertextDigest = primitives.sha512(checked.ciphertext);
  if (ciphertextDigest.length !== CIPHERTEXT_DIGEST_BYTES) throw new RangeError(`sha512 returned ${ciphertextDigest.length} bytes`);
  const transcript = updateTranscript({ ...checked, serverRoundKey, ciphertextDigest });
  if (!primitives.verifyEd25519(checked.signature, transcript, clientIdentityKey)) {
    throw rejectUpdate(
      'signature-invalid',
      `update signature of ${who} does not verify for round ${round} under its identity key and this round's server key (forged, tampered, truncated, or sealed to another key)`,
    );
  }

  if (seenNonces.has(checked.clientId, checked.nonce)) {
    throw rejectUpdate('replayed-message', `${who} already sent an update with this nonce in round ${round}`);
  }
  seenNonces.add(checked.clientId, checked.nonce);

  return keyring.withSecretKey((secretKey) => {
    const sharedKey = primitives.boxSharedKey(checked.clientBoxPublicKey, secretKey);
    if (sharedKey === null) {
      throw decryptionFailed(who, round, 'its box key is a low-order point');
    }
    try {
      const plaintext = primitives.boxOpenAfter(checked.ciphertext, checked.nonce, sharedKey);
      if (plaintext === null) throw decryptionFailed(who, round, 'the box does not open under this round\'s key');
      return plaintext;
    } finally {
      sharedKey.fill(0);
    }
  });
}

function decryptionFailed(who: string, round: number, why: string): FedkitError {
  return rejectUpdate('decryption-failed', `update of ${who} for round ${round} is signed but does not decrypt: ${why}`);
}
