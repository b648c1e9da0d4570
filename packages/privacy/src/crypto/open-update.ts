/**
 * The portable opener: `openUpdateWith` over tweetnacl. It runs anywhere (a browser-hosted
 * aggregator, a test, a Kotlin port's reference), at tweetnacl's speed (~20 MB/s for a 4 MB
 * update here, most of it SHA-512); the server uses the fast opener in
 * `@fedkit/server`, which plugs libsodium and node:crypto into the same checks.
 */
import nacl from 'tweetnacl';
import { isAllZero } from './bytes.js';
import { openUpdateWith, type OpenUpdateOptions, type OpenUpdatePrimitives } from './open-update-core.js';

/** tweetnacl's primitives, in the shape `openUpdateWith` takes. */
export const TWEETNACL_PRIMITIVES: OpenUpdatePrimitives = {
  sha512: (bytes) => nacl.hash(bytes),
  verifyEd25519: (signature, message, publicKey) => nacl.sign.detached.verify(message, signature, publicKey),
  boxSharedKey(theirPublicKey, mySecretKey) {
    // tweetnacl does not refuse a low-order peer key the way libsodium does; check here so
    // that both openers refuse the same envelopes.
    const point = nacl.scalarMult(mySecretKey, theirPublicKey);
    const degenerate = isAllZero(point);
    point.fill(0);
    return degenerate ? null : nacl.box.before(theirPublicKey, mySecretKey);
  },
  boxOpenAfter: (ciphertext, nonce, sharedKey) => nacl.box.open.after(ciphertext, nonce, sharedKey),
};

/**
 * Verifies and decrypts one update envelope with tweetnacl: see `openUpdateWith` for the
 * checks, their order and the errors.
 *
 * @example
 * const update = openUpdate(envelope, {
 *   round, expectedClientId: client.id, clientIdentityKey: client.identityKey, keyring, seenNonces,
 * });
 */
export function openUpdate(envelope: unknown, options: OpenUpdateOptions): Uint8Array {
  return openUpdateWith(TWEETNACL_PRIMITIVES, envelope, options);
}
