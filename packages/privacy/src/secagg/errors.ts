/**
 * Coded errors for secure aggregation. Every refusal in the protocol (a share addressed to
 * someone else, a request to reveal the wrong secret, too few survivors) must be visible to
 * the caller as a stable `FedkitError.code`, because the server decides from the code whether
 * a client merely dropped out or the whole round must abort.
 *
 * The `secagg-*` codes below are not yet in `@fedkit/protocol`'s `ERROR_CODES`; until they are
 * appended there (group "secure aggregation"), `secAggError` is the one place that widens
 * the type. Once they are, the cast below becomes a no-op and can be deleted.
 */
import { FedkitError, type ErrorCode } from '@fedkit/protocol';

/** Codes that secure aggregation adds to the protocol's list. */
export const SECAGG_ERROR_CODES = [
  /** A stage message arrived while the state machine was in another stage. */
  'secagg-stage-invalid',
  /** A ciphertext or its inner header names another recipient, sender or round. */
  'secagg-share-misaddressed',
  /** A share does not decrypt, does not parse, or does not reconstruct a consistent secret. */
  'secagg-share-invalid',
  /** A quantized or masked value lies outside its range (or an update outside the clipping range). */
  'secagg-value-out-of-range',
  /** A request would reveal both the self-mask share and the mask-key share of one client. */
  'secagg-reveal-refused',
  /** Fewer than `threshold` clients remain: the round aborts and the model is unchanged. */
  'secagg-too-few-clients',
  /** A public key is malformed, repeated, or yields a degenerate (all-zero) shared secret. */
  'secagg-key-invalid',
] as const;

export type SecAggErrorCode = (typeof SECAGG_ERROR_CODES)[number];

/** Every code secure aggregation throws: its own plus the protocol's existing ones. */
export type SecAggThrownCode = SecAggErrorCode | ErrorCode;

/**
 * Builds a `FedkitError` with a secure-aggregation code.
 *
 * @example
 * throw secAggError('secagg-too-few-clients', `3 clients remain, threshold is 4`);
 */
export function secAggError(code: SecAggThrownCode, message: string, details?: Record<string, unknown>): FedkitError {
  return new FedkitError(code as ErrorCode, message, details);
}
