/**
 * The bytes a client signs for an update envelope. Signing a transcript rather than the
 * envelope's fields one by one binds them together (a signature for round 3 cannot be
 * replayed into round 4, nor under another server key, client id or ciphertext), and the
 * domain tag keeps these signatures from ever verifying as any other Fedkit signature.
 *
 * Every implementation (TypeScript, Kotlin, Swift) must produce these bytes exactly.
 *
 * ## Layout
 *
 * The transcript is nine fields, each written as a 4-byte big-endian unsigned length
 * followed by that many bytes. Integers inside fields are big-endian unsigned. With
 * `n` = the UTF-8 byte length of the client id (1 ≤ n ≤ 256):
 *
 * | offset  | bytes | content                                                        |
 * |---------|-------|----------------------------------------------------------------|
 * | 0       | 4     | `00 00 00 19` (25)                                             |
 * | 4       | 25    | ASCII `fedkit/update-envelope/v1` (domain tag)                 |
 * | 29      | 4     | `00 00 00 04`                                                  |
 * | 33      | 4     | protocol version, u32 (`PROTOCOL_VERSION`, 1 today)            |
 * | 37      | 4     | `00 00 00 08`                                                  |
 * | 41      | 8     | round id, u64                                                  |
 * | 49      | 4     | n, u32                                                         |
 * | 53      | n     | client id, UTF-8, no terminator                                |
 * | 53+n    | 4     | `00 00 00 20` (32)                                             |
 * | 57+n    | 32    | server's X25519 public key for the round                       |
 * | 89+n    | 4     | `00 00 00 20` (32)                                             |
 * | 93+n    | 32    | client's ephemeral X25519 box public key                       |
 * | 125+n   | 4     | `00 00 00 18` (24)                                             |
 * | 129+n   | 24    | nonce                                                          |
 * | 153+n   | 4     | `00 00 00 40` (64)                                             |
 * | 157+n   | 64    | SHA-512 of the whole ciphertext (tag ‖ encrypted update)        |
 *
 * Total: 221 + n bytes. The signature is plain Ed25519 (RFC 8032, not Ed25519ph or ctx)
 * over these bytes with the client's identity key: 64 bytes, `R ‖ S`.
 *
 * The ciphertext is hashed, not the tag alone, so that the signature commits to the exact
 * bytes: a Poly1305 tag only binds the ciphertext for parties that do not know the box key,
 * and the server (or whoever obtains a leaked round key) does know it.
 */
import { PROTOCOL_VERSION } from '@fedkit/protocol';
import { BOX_PUBLIC_KEY_BYTES, MAX_CLIENT_ID_BYTES, NONCE_BYTES, clientIdBytes } from './envelope.js';

/** The ASCII domain tag that opens every update transcript. */
export const UPDATE_TRANSCRIPT_DOMAIN = 'fedkit/update-envelope/v1';
/** SHA-512 output length: the ciphertext digest in the transcript. */
export const CIPHERTEXT_DIGEST_BYTES = 64;

/** What a transcript binds; byte fields must have their envelope lengths. */
export interface UpdateTranscriptFields {
  readonly round: number;
  readonly clientId: string;
  readonly serverRoundKey: Uint8Array;
  readonly clientBoxPublicKey: Uint8Array;
  readonly nonce: Uint8Array;
  /** SHA-512 of the ciphertext. */
  readonly ciphertextDigest: Uint8Array;
}

const DOMAIN_BYTES = new TextEncoder().encode(UPDATE_TRANSCRIPT_DOMAIN);

/**
 * Builds the transcript of the layout above. Throws `RangeError` for a field of the wrong
 * length or a round that is not a non-negative safe integer (callers check envelopes first).
 */
export function updateTranscript(fields: UpdateTranscriptFields): Uint8Array {
  const { round } = fields;
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError(`round must be a non-negative safe integer, got ${round}`);
  const id = clientIdBytes(fields.clientId);
  if (id.length === 0 || id.length > MAX_CLIENT_ID_BYTES) throw new RangeError(`clientId must be 1 to ${MAX_CLIENT_ID_BYTES} UTF-8 bytes, got ${id.length}`);
  expectLength('serverRoundKey', fields.serverRoundKey, BOX_PUBLIC_KEY_BYTES);
  expectLength('clientBoxPublicKey', fields.clientBoxPublicKey, BOX_PUBLIC_KEY_BYTES);
  expectLength('nonce', fields.nonce, NONCE_BYTES);
  expectLength('ciphertextDigest', fields.ciphertextDigest, CIPHERTEXT_DIGEST_BYTES);

  const version = new Uint8Array(4);
  new DataView(version.buffer).setUint32(0, PROTOCOL_VERSION, false);
  const roundBytes = new Uint8Array(8);
  const roundView = new DataView(roundBytes.buffer);
  // Split because DataView.setBigUint64 would need BigInt for a value that fits 53 bits.
  roundView.setUint32(0, Math.floor(round / 0x1_0000_0000), false);
  roundView.setUint32(4, round >>> 0, false);

  const parts = [DOMAIN_BYTES, version, roundBytes, id, fields.serverRoundKey, fields.clientBoxPublicKey, fields.nonce, fields.ciphertextDigest];
  let total = 0;
  for (const part of parts) total += 4 + part.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part.length, false);
    out.set(part, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}

function expectLength(name: string, value: Uint8Array, length: number): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value instanceof Uint8Array ? value.length : typeof value}`);
  }
}
