/**
 * One error type for the whole framework. Every failure that crosses a module or the wire
 * carries a stable string `code` so that callers (and clients in other languages) can branch
 * on it without parsing messages. Codes are part of the wire contract: docs/protocol.md
 * lists them, and renaming one is a protocol change.
 */

/** Every code Fedkit emits. Add new codes at the end of the group they belong to. */
export const ERROR_CODES = [
  // handshake and session
  'protocol-version-mismatch',
  'invalid-message',
  'not-joined',
  'already-joined',
  'duplicate-client-id',
  // authentication and connection limits
  'auth-missing',
  'auth-invalid',
  'auth-expired',
  'auth-wrong-federation',
  'auth-key-unknown',
  'rate-limited',
  'origin-not-allowed',
  // rounds
  'round-not-open',
  'round-closed',
  'not-selected',
  'duplicate-update',
  'deadline-exceeded',
  'round-failed',
  'client-disconnected',
  'client-error',
  'late-reply',
  'too-few-replies',
  // asynchronous (buffered) mode
  'update-stale',
  // updates and weights
  'update-shape-mismatch',
  'update-size-mismatch',
  'update-not-finite',
  'weights-layout-invalid',
  // chunked transfers
  'chunk-invalid',
  'chunk-checksum-mismatch',
  'chunk-missing',
  'chunk-duplicate',
  'transfer-too-large',
  'transfer-unknown',
  'transfer-timeout',
  // secure aggregation
  'secagg-stage-invalid',
  'secagg-share-misaddressed',
  'secagg-share-invalid',
  'secagg-value-out-of-range',
  'secagg-reveal-refused',
  'secagg-too-few-clients',
  'secagg-key-invalid',
  // encrypted updates
  'signature-invalid',
  'replayed-message',
  'decryption-failed',
  // durable state (the server's data dir)
  'state-corrupt',
  'state-version-unsupported',
  'state-mismatch',
  // privacy budget
  'budget-exhausted',
  // the operator's admin API (HTTP)
  'admin-disabled',
  'admin-token-missing',
  'admin-token-invalid',
  'training-finished',
  // configuration and local errors
  'config-invalid',
  // a clustered server (cluster option) cannot reach its Redis
  'redis-unreachable',
  'model-invalid',
  'data-invalid',
  'backend-unavailable',
  'training-failed',
  'server-shutting-down',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The shape of an error on the wire (inside acks and `error` events). */
export interface WireError {
  code: ErrorCode;
  message: string;
}

/**
 * A coded error. `details` holds structured context for logs (never secrets).
 *
 * @example
 * throw new FedkitError('update-size-mismatch', `update has 12 bytes, expected 16`);
 */
export class FedkitError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'FedkitError';
    this.code = code;
    this.details = details;
  }

  toWire(): WireError {
    return { code: this.code, message: this.message };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Converts anything thrown into a wire error; unknown errors become `internal`. */
export function toWireError(error: unknown): WireError {
  if (error instanceof FedkitError) return error.toWire();
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message };
}

/** Rebuilds a FedkitError from a wire error received from the other side. */
export function fromWireError(wire: WireError): FedkitError {
  return new FedkitError(wire.code, wire.message);
}
