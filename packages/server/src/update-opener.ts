/**
 * The server's fast update opener. It runs the same checks, in the same order, as
 * `openUpdate` of `@fedkit/privacy/crypto` (it is `openUpdateWith` there), with faster
 * primitives: node:crypto (OpenSSL) for SHA-512 and Ed25519 verification, libsodium for
 * nacl.box, which tweetnacl clients produce byte for byte. tweetnacl alone opens ~20 MB/s
 * of 4 MB updates here, far below what socket.io delivers; see bench/open.ts for figures.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { openUpdateWith, type OpenUpdateOptions, type OpenUpdatePrimitives } from '@fedkit/privacy/crypto';
import sodium from 'libsodium-wrappers';

/** DER SubjectPublicKeyInfo header of an Ed25519 key (RFC 8410); the raw 32 bytes follow. */
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

// libsodium-wrappers reports every failure as an Error; these are the messages of the two
// outcomes that are the client's doing rather than a fault of ours (pinned version 0.8.4;
// the test suite fails if they change).
const LOW_ORDER_KEY_MESSAGE = 'invalid usage';
const BAD_TAG_MESSAGE = 'incorrect secret key for the given ciphertext';

function ed25519PublicKey(raw: Uint8Array) {
  const der = new Uint8Array(ED25519_SPKI_PREFIX.length + raw.length);
  der.set(ED25519_SPKI_PREFIX);
  der.set(raw, ED25519_SPKI_PREFIX.length);
  return createPublicKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'spki' });
}

function isErrorWithMessage(error: unknown, message: string): boolean {
  return error instanceof Error && error.message === message;
}

/** node:crypto + libsodium primitives; only usable once `sodium.ready` has resolved. */
function fastPrimitives(): OpenUpdatePrimitives {
  return {
    sha512: (bytes) => createHash('sha512').update(bytes).digest(),
    verifyEd25519: (signature, message, publicKey) => verify(null, message, ed25519PublicKey(publicKey), signature),
    boxSharedKey(theirPublicKey, mySecretKey) {
      try {
        return sodium.crypto_box_beforenm(theirPublicKey, mySecretKey);
      } catch (error) {
        if (isErrorWithMessage(error, LOW_ORDER_KEY_MESSAGE)) return null;
        throw error;
      }
    },
    boxOpenAfter(ciphertext, nonce, sharedKey) {
      try {
        return sodium.crypto_box_open_easy_afternm(ciphertext, nonce, sharedKey);
      } catch (error) {
        if (isErrorWithMessage(error, BAD_TAG_MESSAGE)) return null;
        throw error;
      }
    },
  };
}

/** Opens update envelopes with node:crypto and libsodium; see `createFastUpdateOpener`. */
export interface FastUpdateOpener {
  /** The primitives in use (for tests that compare them with tweetnacl's). */
  readonly primitives: OpenUpdatePrimitives;
  /**
   * Verifies and decrypts one envelope: the checks, their order and the errors of
   * `openUpdateWith` in `@fedkit/privacy/crypto`.
   */
  open(envelope: unknown, options: OpenUpdateOptions): Uint8Array;
}

/**
 * Waits for libsodium's WebAssembly to load, then returns the opener. Create it once at
 * server start.
 *
 * @example
 * const opener = await createFastUpdateOpener();
 * const update = opener.open(envelope, { round, expectedClientId, clientIdentityKey, keyring, seenNonces });
 */
export async function createFastUpdateOpener(): Promise<FastUpdateOpener> {
  await sodium.ready;
  const primitives = fastPrimitives();
  return {
    primitives,
    open: (envelope, options) => openUpdateWith(primitives, envelope, options),
  };
}
