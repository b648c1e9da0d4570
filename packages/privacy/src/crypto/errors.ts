/**
 * Why an update envelope was refused, as a stable reason the server can branch on.
 *
 * The wire contract only carries `FedkitError.code`s listed in `@fedkit/protocol`'s
 * `ERROR_CODES`. Reasons with a code of their own use it; the others map to the closest
 * round or message code, and the precise reason always travels in `details.reason`.
 */
import { FedkitError, type ErrorCode } from '@fedkit/protocol';

/** Every reason an envelope is refused, with the protocol code it is reported under today. */
export const UPDATE_REJECTION_CODES = {
  /** A field has the wrong type or length (truncated below the MAC, a 23-byte nonce, ...). */
  'malformed-envelope': 'invalid-message',
  /** The envelope names a round that has already closed. */
  'stale-round': 'round-closed',
  /** The envelope names a round that has not opened yet. */
  'future-round': 'round-not-open',
  /** The round's key pair was destroyed: the round is over. */
  'round-key-destroyed': 'round-closed',
  /** The envelope names another client than the connection it arrived on. */
  'wrong-sender': 'invalid-message',
  /** The signature does not verify (forged, tampered, sealed to another round key, weak key). */
  'signature-invalid': 'signature-invalid',
  /** This client already sent an envelope with this nonce in this round. */
  'replayed-message': 'replayed-message',
  /** Signed by the client, but the box does not open (encrypted to another key, or garbage). */
  'decryption-failed': 'decryption-failed',
} as const satisfies Record<string, ErrorCode>;

export type UpdateRejection = keyof typeof UPDATE_REJECTION_CODES;

/**
 * Builds the error for a refused envelope.
 *
 * @example
 * throw rejectUpdate('replayed-message', `client "a" already sent nonce 00ff… in round 3`);
 */
export function rejectUpdate(reason: UpdateRejection, message: string, details?: Record<string, unknown>): FedkitError {
  return new FedkitError(UPDATE_REJECTION_CODES[reason], message, { ...details, reason });
}

/** The rejection reason carried by an error from this module, or `undefined` for any other error. */
export function updateRejectionOf(error: unknown): UpdateRejection | undefined {
  if (!(error instanceof FedkitError)) return undefined;
  const reason = error.details?.['reason'];
  return typeof reason === 'string' && Object.hasOwn(UPDATE_REJECTION_CODES, reason) ? (reason as UpdateRejection) : undefined;
}
