/**
 * Size limits shared by both ends. socket.io drops a connection without explanation when a
 * message exceeds the receiver's `maxHttpBufferSize` (1e6 bytes by default; over HTTP
 * long-polling binary is base64-encoded, so ~750 kB is the real limit). Fedkit therefore
 * never sends a binary body above `DEFAULT_MAX_CHUNK_BYTES` in one message.
 */

/** Largest binary chunk in one socket.io message, in bytes (fits long-polling's base64 too). */
export const DEFAULT_MAX_CHUNK_BYTES = 512 * 1024;

/** Largest socket.io message the server accepts: one chunk plus headroom for the envelope. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;

/** Largest whole transfer (an encoded model or update), in bytes. */
export const DEFAULT_MAX_TRANSFER_BYTES = 512 * 1024 * 1024;

/** How long a receiver keeps an incomplete transfer before dropping it, in ms. */
export const DEFAULT_TRANSFER_TIMEOUT_MS = 60_000;
