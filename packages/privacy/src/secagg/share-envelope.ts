/**
 * The envelope that carries one client's two Shamir shares (of its self-mask seed and of its
 * mask secret key) to one neighbour through the server: nacl.box's construction (X25519,
 * then nacl.secretbox = XSalsa20-Poly1305) under the pair's cipher keys (`shareBoxKey`), so
 * the server routes ciphertexts it cannot read or alter.
 *
 * Ciphertext: `nonce (24 bytes) ‖ secretbox`. Plaintext: `[version=1][round: u32][from: u16]
 * [to: u16][len: u16][self-mask share][len: u16][mask-key share]`, all big-endian. The
 * header repeats the addressing inside the authenticated plaintext, so a ciphertext that the
 * server forwards to the wrong client, or replays from another round, is refused.
 */
import type { RandomSource } from '@fedkit/protocol';
import nacl from 'tweetnacl';
import { concatBytes } from './bytes.js';
import { secAggError } from './errors.js';
import { SEED_BYTES } from './key-agreement.js';
import { decodeShare } from './shamir.js';

const VERSION = 1;
const HEADER_BYTES = 9;

/** Envelope bytes besides the two length-prefixed shares: nonce, MAC and header. */
export const ENVELOPE_OVERHEAD_BYTES = nacl.secretbox.nonceLength + nacl.secretbox.overheadLength + HEADER_BYTES;

/** The addressing every envelope is checked against. */
export interface EnvelopeAddress {
  readonly round: number;
  readonly from: number;
  readonly to: number;
}

export interface SharePair {
  readonly selfMaskShare: Uint8Array;
  readonly maskKeyShare: Uint8Array;
}

/** Encrypts `shares` from `address.from` to `address.to` under `boxKey` (from `shareBoxKey`). */
export function sealShares(address: EnvelopeAddress, shares: SharePair, boxKey: Uint8Array, random: RandomSource): Uint8Array {
  const header = new Uint8Array(HEADER_BYTES);
  const view = new DataView(header.buffer);
  header[0] = VERSION;
  view.setUint32(1, address.round, false);
  view.setUint16(5, address.from, false);
  view.setUint16(7, address.to, false);
  const plaintext = concatBytes(header, lengthPrefix(shares.selfMaskShare), shares.selfMaskShare, lengthPrefix(shares.maskKeyShare), shares.maskKeyShare);
  const nonce = new Uint8Array(nacl.secretbox.nonceLength);
  random.fillBytes(nonce);
  return concatBytes(nonce, nacl.secretbox(plaintext, nonce, boxKey));
}

/**
 * Decrypts and checks an envelope. Throws `FedkitError('secagg-share-invalid')` when it does
 * not decrypt or its shares are malformed, and `FedkitError('secagg-share-misaddressed')`
 * when its authenticated header names another round, sender or recipient.
 */
export function openShares(ciphertext: Uint8Array, boxKey: Uint8Array, expected: EnvelopeAddress): SharePair {
  const what = `the share envelope from ${expected.from} to ${expected.to}`;
  if (ciphertext.length < nacl.secretbox.nonceLength + nacl.secretbox.overheadLength + HEADER_BYTES) {
    throw secAggError('secagg-share-invalid', `${what} is truncated (${ciphertext.length} bytes)`);
  }
  const nonce = ciphertext.subarray(0, nacl.secretbox.nonceLength);
  const plaintext = nacl.secretbox.open(ciphertext.subarray(nacl.secretbox.nonceLength), nonce, boxKey);
  if (plaintext === null) throw secAggError('secagg-share-invalid', `${what} does not decrypt: tampered, or sealed for another client`);
  const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  if (plaintext[0] !== VERSION) throw secAggError('secagg-share-invalid', `${what} has version ${plaintext[0]}`);
  const round = view.getUint32(1, false);
  const from = view.getUint16(5, false);
  const to = view.getUint16(7, false);
  if (round !== expected.round || from !== expected.from || to !== expected.to) {
    throw secAggError(
      'secagg-share-misaddressed',
      `${what} is addressed round ${round}, ${from} → ${to}; expected round ${expected.round}, ${expected.from} → ${expected.to}`,
    );
  }
  let offset = HEADER_BYTES;
  const take = (): Uint8Array => {
    if (offset + 2 > plaintext.length) throw secAggError('secagg-share-invalid', `${what} is cut short`);
    const length = view.getUint16(offset, false);
    const share = plaintext.subarray(offset + 2, offset + 2 + length);
    if (share.length !== length) throw secAggError('secagg-share-invalid', `${what} is cut short`);
    offset += 2 + length;
    const decoded = decodeShare(share, what);
    if (decoded.x !== expected.to || decoded.secretLength !== SEED_BYTES) {
      throw secAggError('secagg-share-invalid', `${what} holds a share for x = ${decoded.x} of a ${decoded.secretLength}-byte secret`);
    }
    return share.slice();
  };
  const selfMaskShare = take();
  const maskKeyShare = take();
  if (offset !== plaintext.length) throw secAggError('secagg-share-invalid', `${what} has ${plaintext.length - offset} trailing bytes`);
  return { selfMaskShare, maskKeyShare };
}

function lengthPrefix(bytes: Uint8Array): Uint8Array {
  return Uint8Array.of(bytes.length >>> 8, bytes.length & 0xff);
}
