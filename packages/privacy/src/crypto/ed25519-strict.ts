/**
 * Strict Ed25519 input rules, checked before any verifier runs.
 *
 * Ed25519 verifiers disagree at the edges: tweetnacl accepts a signature whose scalar S is
 * not reduced (S + L verifies wherever S does), OpenSSL (node:crypto) refuses it; libsodium
 * also refuses small-order and non-canonical keys. The tweetnacl and node:crypto openers
 * must accept exactly the same envelopes, so both apply these rules first (the same ones
 * libsodium's `crypto_sign_verify_detached` applies), and only then run the cofactorless
 * equation `[S]B = R + [H(R‖A‖M)]A`, on which the libraries agree:
 *
 * - S, the second half of the signature, is canonical: S < L (the group order);
 * - R, the first half, and the public key A are canonical point encodings (y < p) whose
 *   y coordinate is none of the five of the eight small-order points; such a key would let
 *   one signature verify for many messages.
 */
import { IDENTITY_PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './envelope.js';

/** p = 2^255 − 19. */
const P = (1n << 255n) - 19n;
/** L = 2^252 + 27742317777372353535851937790883648493, the order of the base point. */
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
/**
 * y of the order-8 points (the other order-8 points have y = p − Y8). It is the root of
 * d·y⁴ + 2y² − 1 = 0 that defines them; the test suite checks that equation.
 */
export const ORDER_8_Y = 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n;

/** y coordinates of the points of order 1, 2, 4 and 8 (x is fixed by y up to sign). */
const SMALL_ORDER_Y: readonly bigint[] = [1n, P - 1n, 0n, ORDER_8_Y, P - ORDER_8_Y];

function littleEndian(bytes: Uint8Array, clearTopBit: boolean): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) {
    const byte = i === bytes.length - 1 && clearTopBit ? bytes[i]! & 0x7f : bytes[i]!;
    value = (value << 8n) | BigInt(byte);
  }
  return value;
}

/** Why a point encoding is refused, or `null` when it is acceptable. */
export function weakPointReason(encoding: Uint8Array): string | null {
  if (encoding.length !== 32) return `is ${encoding.length} bytes, not 32`;
  const y = littleEndian(encoding, true);
  if (y >= P) return 'is not a canonical encoding (y ≥ p)';
  if (SMALL_ORDER_Y.includes(y)) return 'is a point of small order';
  return null;
}

/** Whether the scalar half of a signature is reduced (S < L). */
export function isCanonicalScalar(s: Uint8Array): boolean {
  return s.length === 32 && littleEndian(s, false) < L;
}

/**
 * Why an (identity key, signature) pair fails the strict rules, or `null` when a verifier
 * may run on it. Lengths are checked too, so the caller can pass anything it received.
 */
export function strictSignatureProblem(publicKey: Uint8Array, signature: Uint8Array): string | null {
  if (publicKey.length !== IDENTITY_PUBLIC_KEY_BYTES) return `identity key is ${publicKey.length} bytes, not 32`;
  if (signature.length !== SIGNATURE_BYTES) return `signature is ${signature.length} bytes, not 64`;
  const keyProblem = weakPointReason(publicKey);
  if (keyProblem !== null) return `identity key ${keyProblem}`;
  const rProblem = weakPointReason(signature.subarray(0, 32));
  if (rProblem !== null) return `signature point R ${rProblem}`;
  if (!isCanonicalScalar(signature.subarray(32))) return 'signature scalar S is not reduced (S ≥ L)';
  return null;
}
