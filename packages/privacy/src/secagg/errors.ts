/**
 * Coded errors for secure aggregation. Every refusal in the protocol (a share addressed to
 * someone else, a request to reveal the wrong secret, too few survivors) must be visible to
 * the caller as a stable `FedkitError.code`, because the server decides from the code whether
 * a client merely dropped out or the whole round must abort. The codes themselves live in
 * `@fedkit/protocol`'s ERROR_CODES (group "secure aggregation"); this module only names them.
 */
import { ERROR_CODES, FedkitError, type ErrorCode } from '@fedkit/protocol';

/** A code of the secure-aggregation group (`secagg-*`). */
export type SecAggErrorCode = Extract<ErrorCode, `secagg-${string}`>;

/** The secure-aggregation codes, in the protocol's order. */
export const SECAGG_ERROR_CODES: readonly SecAggErrorCode[] = ERROR_CODES.filter((code): code is SecAggErrorCode =>
  code.startsWith('secagg-'),
);

/**
 * Builds a `FedkitError` with a secure-aggregation (or any other protocol) code.
 *
 * @example
 * throw secAggError('secagg-too-few-clients', `3 clients remain, threshold is 4`);
 */
export function secAggError(code: ErrorCode, message: string, details?: Record<string, unknown>): FedkitError {
  return new FedkitError(code, message, details);
}
