/**
 * Acknowledge only what is stored. A process folds its clients' accepted replies into its
 * local accumulator (the strategy's own, as in one process) and, in small batches, writes
 * the accumulator's cumulative partial to Redis with the clients it now holds. A reply's
 * acknowledgement waits for the write that contains it, so a process killed after
 * acknowledging loses nothing that was acknowledged. A failed write is retried with the
 * next batch; once the round is closed, the waiting replies are refused (`round-closed`).
 */
import type { Redis } from 'ioredis';
import { FedkitError } from '@fedkit/protocol';
import type { UpdateAccumulator } from '@fedkit/aggregation';
import type { Logger } from '../logger.js';
import { delay } from './delay.js';
import type { ClusterKeys } from './keys.js';
import { encodePartial } from './partial-codec.js';
import { reportPartial, type ClusterTask, type TaskEvent } from './round-task.js';

interface Waiter {
  clientId: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Writes are batched this long after the first unflushed reply (ms). */
const BATCH_MS = 5;
/** Writes close() tries (including ones already in flight) before refusing what is left. */
const CLOSE_WRITE_ATTEMPTS = 8;

/**
 * Where a flusher keeps its cumulative partial: the plain rounds' accumulator partials
 * (`accumulatorStore`), or the masked sums of secure aggregation (secagg-relay.ts).
 */
export interface PartialStore {
  /** The bytes of everything folded so far, naming `clients`. Throws when they cannot be encoded. */
  encode(clients: readonly string[]): Buffer;
  /** Stores `bytes` (null: the event only) and `event` in one step; false once the round no longer accepts them. */
  write(event: TaskEvent, bytes: Buffer | null): Promise<boolean>;
}

/** The store of a plain training round: the accumulator's partial under the task's `partials` hash. */
export function accumulatorStore(redis: Redis, keys: ClusterKeys, task: Pick<ClusterTask, 'id' | 'deadlineAt'>, accumulator: UpdateAccumulator): PartialStore {
  return {
    encode(clients) {
      const partial = accumulator.exportPartial?.();
      if (partial === undefined) throw new FedkitError('internal', 'the strategy accumulator cannot export a partial sum');
      return encodePartial({ ...partial, clients: [...clients] });
    },
    write: (event, bytes) => reportPartial(redis, keys, task, event, bytes),
  };
}

export class PartialFlusher {
  private waiting: Waiter[] = [];
  /** Clients folded into the accumulator (stored or waiting). */
  private readonly folds = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private writing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly store: PartialStore,
    private readonly processId: string,
    private readonly taskId: string,
    private readonly logger: Logger,
    private readonly retryMs: number,
  ) {}

  /** The flusher of a plain training round's accumulator (see `accumulatorStore`). */
  static forAccumulator(redis: Redis, keys: ClusterKeys, processId: string, task: Pick<ClusterTask, 'id' | 'deadlineAt'>, accumulator: UpdateAccumulator, logger: Logger, retryMs: number): PartialFlusher {
    return new PartialFlusher(accumulatorStore(redis, keys, task, accumulator), processId, task.id, logger, retryMs);
  }

  /** Called once `clientId`'s reply is folded into the accumulator; resolves when it is stored. */
  folded(clientId: string): Promise<void> {
    if (this.closed) return Promise.reject(new FedkitError('round-closed', 'the round closed before this update was stored'));
    this.folds.add(clientId);
    return new Promise((resolve, reject) => {
      this.waiting.push({ clientId, resolve, reject });
      this.schedule(BATCH_MS);
    });
  }

  /** Stores the failures of this process's clients (with the partial as it stands). */
  async reportFailures(failed: TaskEvent['failed']): Promise<boolean> {
    if (failed.length === 0) return true;
    try {
      return await this.store.write({ processId: this.processId, answered: [], failed }, this.encode());
    } catch (error) {
      this.logger.warn({ taskId: this.taskId, err: (error as Error).message }, 'could not report failures to Redis');
      return false;
    }
  }

  /**
   * Stores everything folded so far, then refuses whatever could not be stored. A reply
   * that arrived while a write was in flight is still waiting when that write ends: it gets
   * its own write here (the last local replies of a round often land exactly then). Writes
   * that fail (Redis away) are retried `retryMs` apart, at most CLOSE_WRITE_ATTEMPTS times.
   */
  async close(): Promise<void> {
    for (let attempt = 0; attempt < CLOSE_WRITE_ATTEMPTS && !this.closed; attempt++) {
      this.cancelTimer();
      if (this.writing !== null) {
        await this.writing;
        continue;
      }
      if (this.waiting.length === 0) break;
      await this.flush();
      // Still waiting with no write in flight: the write failed; give Redis a moment.
      if (this.waiting.length > 0 && this.writing === null && !this.closed) await delay(this.retryMs);
    }
    this.closed = true;
    this.cancelTimer();
    const left = this.waiting;
    this.waiting = [];
    for (const w of left) w.reject(new FedkitError('round-closed', 'the round closed before this update was stored'));
  }

  private cancelTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delayMs);
  }

  private encode(): Buffer {
    return this.store.encode([...this.folds]);
  }

  private async flush(): Promise<void> {
    if (this.writing !== null) {
      await this.writing;
      if (this.waiting.length > 0) this.schedule(BATCH_MS);
      return;
    }
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    const write = async (): Promise<void> => {
      let bytes: Buffer;
      try {
        bytes = this.encode();
      } catch (error) {
        // Not a Redis problem: retrying cannot help. These replies are refused, as failures.
        const refusal = error instanceof FedkitError ? error : new FedkitError('internal', (error as Error).message);
        for (const w of batch) w.reject(refusal);
        return;
      }
      try {
        const event: TaskEvent = { processId: this.processId, answered: batch.map((w) => w.clientId), failed: [] };
        const ok = await this.store.write(event, bytes);
        if (!ok) {
          this.closed = true;
          for (const w of batch) w.reject(new FedkitError('round-closed', 'the round closed before this update was stored'));
          return;
        }
        for (const w of batch) w.resolve();
      } catch (error) {
        // Redis unavailable: keep the replies (they are in the accumulator) and try again.
        this.logger.warn({ taskId: this.taskId, err: (error as Error).message }, 'could not store a partial in Redis; retrying');
        this.waiting = [...batch, ...this.waiting];
        if (this.closed) {
          for (const w of this.waiting.splice(0)) w.reject(new FedkitError('redis-unreachable', 'the update could not be stored in Redis before the round closed'));
        } else this.schedule(this.retryMs);
      }
    };
    this.writing = write().finally(() => {
      this.writing = null;
    });
    await this.writing;
  }
}
