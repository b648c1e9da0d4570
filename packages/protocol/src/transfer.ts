/**
 * Chunked binary transfers. socket.io drops a connection when one message exceeds the
 * receiver's buffer limit, so every binary body (global weights, an update) is split into
 * chunks of at most `maxChunkBytes`, each with its own CRC-32, and reassembled by the
 * receiver into one buffer. A message that refers to the body (e.g. `train-result`) names
 * the transfer by id and is sent after the last chunk.
 */
import { crc32 as pureCrc32, type Crc32 } from './crc32.js';
import { FedkitError } from './errors.js';
import type { ChunkMessage } from './messages.js';
import { DEFAULT_MAX_TRANSFER_BYTES, DEFAULT_TRANSFER_TIMEOUT_MS } from './limits.js';

/**
 * Splits `bytes` into chunk messages. Chunks are views of `bytes` (no copy), so `bytes`
 * must not change until they are sent.
 */
export function splitTransfer(
  transferId: string,
  bytes: Uint8Array,
  maxChunkBytes: number,
  checksum: Crc32 = pureCrc32,
): ChunkMessage[] {
  if (!Number.isInteger(maxChunkBytes) || maxChunkBytes < 1) {
    throw new RangeError(`maxChunkBytes must be a positive integer, got ${maxChunkBytes}`);
  }
  const count = Math.max(1, Math.ceil(bytes.byteLength / maxChunkBytes));
  const chunks: ChunkMessage[] = [];
  for (let index = 0; index < count; index++) {
    const data = bytes.subarray(index * maxChunkBytes, Math.min(bytes.byteLength, (index + 1) * maxChunkBytes));
    chunks.push({ transferId, index, count, chunkBytes: maxChunkBytes, totalBytes: bytes.byteLength, crc32: checksum(data), data });
  }
  return chunks;
}

export interface TransferAssemblerOptions {
  /** Largest total size accepted for one transfer, in bytes. @default DEFAULT_MAX_TRANSFER_BYTES */
  maxTransferBytes?: number;
  /** Largest chunk accepted, in bytes. @default Infinity */
  maxChunkBytes?: number;
  /** Incomplete transfers older than this are dropped by `sweep`, in ms. @default DEFAULT_TRANSFER_TIMEOUT_MS */
  timeoutMs?: number;
  /** How many transfers may be incomplete at once. @default 4 */
  maxPendingTransfers?: number;
  checksum?: Crc32;
  now?: () => number;
}

interface Pending {
  buffer: Uint8Array;
  received: Uint8Array;
  receivedCount: number;
  count: number;
  chunkBytes: number;
  startedAt: number;
  failure: FedkitError | null;
}

/**
 * Reassembles chunked transfers from one peer. `add` validates each chunk; `take` returns a
 * complete transfer (and forgets it) or throws the reason it is not complete.
 */
export class TransferAssembler {
  private readonly pending = new Map<string, Pending>();
  private readonly maxTransferBytes: number;
  private readonly maxChunkBytes: number;
  private readonly timeoutMs: number;
  private readonly maxPendingTransfers: number;
  private readonly checksum: Crc32;
  private readonly now: () => number;

  constructor(options: TransferAssemblerOptions = {}) {
    this.maxTransferBytes = options.maxTransferBytes ?? DEFAULT_MAX_TRANSFER_BYTES;
    this.maxChunkBytes = options.maxChunkBytes ?? Number.POSITIVE_INFINITY;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS;
    this.maxPendingTransfers = options.maxPendingTransfers ?? 4;
    this.checksum = options.checksum ?? pureCrc32;
    this.now = options.now ?? Date.now;
  }

  /** Number of incomplete or untaken transfers held, and their bytes. */
  get pendingCount(): number {
    return this.pending.size;
  }

  get pendingBytes(): number {
    let total = 0;
    for (const p of this.pending.values()) total += p.buffer.byteLength;
    return total;
  }

  /**
   * Adds a parsed chunk. Returns true when the transfer is complete. Throws a coded error for
   * a bad chunk; a transfer that received a bad chunk is poisoned and `take` reports why.
   */
  add(chunk: ChunkMessage): boolean {
    const { transferId, index, count, chunkBytes, totalBytes, data } = chunk;
    let entry = this.pending.get(transferId);
    if (entry === undefined) {
      if (totalBytes > this.maxTransferBytes) {
        throw new FedkitError('transfer-too-large', `transfer ${transferId} declares ${totalBytes} bytes, the limit is ${this.maxTransferBytes}`);
      }
      if (this.pending.size >= this.maxPendingTransfers) {
        throw new FedkitError('transfer-too-large', `more than ${this.maxPendingTransfers} transfers in progress at once`);
      }
      entry = {
        buffer: new Uint8Array(totalBytes),
        received: new Uint8Array(count),
        receivedCount: 0,
        count,
        chunkBytes,
        startedAt: this.now(),
        failure: null,
      };
      this.pending.set(transferId, entry);
    }
    const fail = (error: FedkitError): never => {
      entry.failure ??= error;
      throw error;
    };
    if (entry.failure !== null) throw entry.failure;
    if (count !== entry.count || chunkBytes !== entry.chunkBytes || totalBytes !== entry.buffer.byteLength) {
      fail(new FedkitError('chunk-invalid', `chunk ${index} of transfer ${transferId} disagrees with earlier chunks on count, chunkBytes or totalBytes`));
    }
    if (data.byteLength > this.maxChunkBytes) {
      fail(new FedkitError('chunk-invalid', `chunk ${index} of transfer ${transferId} has ${data.byteLength} bytes, the limit is ${this.maxChunkBytes}`));
    }
    const offset = index * chunkBytes;
    const expectedBytes = Math.min(chunkBytes, totalBytes - offset);
    if (data.byteLength !== expectedBytes) {
      fail(new FedkitError('chunk-invalid', `chunk ${index} of transfer ${transferId} has ${data.byteLength} bytes, expected ${expectedBytes}`));
    }
    if (entry.received[index] === 1) {
      fail(new FedkitError('chunk-duplicate', `chunk ${index} of transfer ${transferId} arrived twice`));
    }
    const actual = this.checksum(data);
    if (actual !== chunk.crc32) {
      fail(new FedkitError('chunk-checksum-mismatch', `chunk ${index} of transfer ${transferId}: CRC-32 ${actual} does not match ${chunk.crc32}`));
    }
    entry.buffer.set(data, offset);
    entry.received[index] = 1;
    entry.receivedCount++;
    return entry.receivedCount === entry.count;
  }

  /**
   * Removes and returns a complete transfer. Throws `transfer-unknown` when no chunk of it
   * arrived, `chunk-missing` when some did not, or the error that poisoned it.
   */
  take(transferId: string): Uint8Array {
    const entry = this.pending.get(transferId);
    if (entry === undefined) throw new FedkitError('transfer-unknown', `no chunks received for transfer ${transferId}`);
    this.pending.delete(transferId);
    if (entry.failure !== null) throw entry.failure;
    if (entry.receivedCount !== entry.count) {
      const missing: number[] = [];
      for (let i = 0; i < entry.count && missing.length < 5; i++) if (entry.received[i] === 0) missing.push(i);
      throw new FedkitError(
        'chunk-missing',
        `transfer ${transferId} is missing ${entry.count - entry.receivedCount} of ${entry.count} chunks (first: ${missing.join(', ')})`,
      );
    }
    return entry.buffer;
  }

  /** Forgets a transfer, complete or not. */
  drop(transferId: string): void {
    this.pending.delete(transferId);
  }

  /** Drops transfers older than the timeout; returns their ids. */
  sweep(): string[] {
    const cutoff = this.now() - this.timeoutMs;
    const expired: string[] = [];
    for (const [transferId, entry] of this.pending) {
      if (entry.startedAt < cutoff) expired.push(transferId);
    }
    for (const transferId of expired) this.pending.delete(transferId);
    return expired;
  }

  clear(): void {
    this.pending.clear();
  }
}
