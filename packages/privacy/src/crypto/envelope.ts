/**
 * The envelope that carries one client's encrypted, signed update to the server, and the
 * structural check every opener runs first. Checking lengths up front keeps malformed input
 * away from the primitives (tweetnacl throws on wrong-length keys, libsodium on short boxes)
 * and gives both openers the same `malformed-envelope` answer for it.
 */
import { rejectUpdate } from './errors.js';
import { typeName } from './bytes.js';

export const NONCE_BYTES = 24;
export const BOX_PUBLIC_KEY_BYTES = 32;
export const BOX_SECRET_KEY_BYTES = 32;
/** nacl.box's Poly1305 tag: a ciphertext is this many bytes longer than its plaintext. */
export const BOX_OVERHEAD_BYTES = 16;
export const SIGNATURE_BYTES = 64;
export const IDENTITY_PUBLIC_KEY_BYTES = 32;
/** nacl.sign's secret key: 32-byte seed followed by the 32-byte public key. */
export const IDENTITY_SECRET_KEY_BYTES = 64;
/** Longest client id, in UTF-8 bytes, that an envelope may name. */
export const MAX_CLIENT_ID_BYTES = 256;

/**
 * One client's update for one round: `nacl.box(update, nonce, serverRoundKey,
 * clientBoxSecretKey)` under a fresh client box key pair, signed with the client's
 * long-term Ed25519 identity key over the transcript of `update-transcript.ts`.
 */
export interface UpdateEnvelope {
  /** The round the update belongs to (a non-negative safe integer). */
  readonly round: number;
  /** The sending client's id, as registered with the server. */
  readonly clientId: string;
  /** 24 random bytes, never reused by this client within a round. */
  readonly nonce: Uint8Array;
  /** The client's ephemeral X25519 public key for this envelope (32 bytes). */
  readonly clientBoxPublicKey: Uint8Array;
  /** nacl.box output: 16-byte Poly1305 tag followed by the XSalsa20-encrypted update. */
  readonly ciphertext: Uint8Array;
  /** Detached Ed25519 signature (64 bytes) over the update transcript. */
  readonly signature: Uint8Array;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a client id. */
export function clientIdBytes(clientId: string): Uint8Array {
  return encoder.encode(clientId);
}

/**
 * Checks that `value` has the shape of an `UpdateEnvelope`: a non-negative safe-integer
 * round, a client id of 1 to `MAX_CLIENT_ID_BYTES` UTF-8 bytes, and byte fields of exactly
 * their lengths (the ciphertext at least its 16-byte tag). Throws a `malformed-envelope`
 * rejection naming the first field that is wrong; never echoes field contents.
 */
export function checkEnvelopeShape(value: unknown): UpdateEnvelope {
  if (typeof value !== 'object' || value === null) {
    throw rejectUpdate('malformed-envelope', `update envelope must be an object, got ${typeName(value)}`);
  }
  const envelope = value as Record<string, unknown>;
  const round = envelope['round'];
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 0) {
    throw rejectUpdate('malformed-envelope', `update envelope round must be a non-negative integer, got ${typeof round === 'number' ? round : typeName(round)}`);
  }
  const clientId = envelope['clientId'];
  if (typeof clientId !== 'string') {
    throw rejectUpdate('malformed-envelope', `update envelope clientId must be a string, got ${typeName(clientId)}`);
  }
  const idLength = clientId.length > MAX_CLIENT_ID_BYTES ? Infinity : clientIdBytes(clientId).length;
  if (idLength === 0 || idLength > MAX_CLIENT_ID_BYTES) {
    throw rejectUpdate('malformed-envelope', `update envelope clientId must be 1 to ${MAX_CLIENT_ID_BYTES} UTF-8 bytes, got ${clientId.length} characters`);
  }
  const bytesField = (name: string, length: number, atLeast = false): Uint8Array => {
    const field = envelope[name];
    if (!(field instanceof Uint8Array)) {
      throw rejectUpdate('malformed-envelope', `update envelope ${name} must be a Uint8Array, got ${typeName(field)}`);
    }
    if (atLeast ? field.length < length : field.length !== length) {
      throw rejectUpdate('malformed-envelope', `update envelope ${name} must be ${atLeast ? 'at least ' : ''}${length} bytes, got ${field.length}`, {
        field: name,
      });
    }
    return field;
  };
  return {
    round,
    clientId,
    nonce: bytesField('nonce', NONCE_BYTES),
    clientBoxPublicKey: bytesField('clientBoxPublicKey', BOX_PUBLIC_KEY_BYTES),
    ciphertext: bytesField('ciphertext', BOX_OVERHEAD_BYTES, true),
    signature: bytesField('signature', SIGNATURE_BYTES),
  };
}
