/**
 * The operator's pause / resume / stop, shared by the cluster: an admin call reaches
 * whichever process the load balancer picked, but only the coordinator runs rounds. Each
 * process writes its control state to Redis when an operator changes it, and applies the
 * shared state it reads on every tick, so the coordinator honours a pause sent to any
 * process. Last write wins; a stop is never undone.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { ControlState, TrainingControl } from '../training-control.js';
import type { ClusterKeys } from './keys.js';
import { controlStateSchema, parseRecord } from './redis-records.js';

export class SharedControl {
  /** True while applying the shared state, so that it is not written back. */
  private applying = false;
  /** The write in flight: until it lands, the tick must not apply an older shared state. */
  private writing: Promise<unknown> | null = null;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    private readonly control: TrainingControl,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = control.onChange((state) => {
      if (!this.applying) this.write(state);
    });
  }

  /** Applies the shared state (called on every tick). */
  async sync(): Promise<void> {
    if (this.writing !== null) return;
    const raw = await this.redis.get(this.keys.control);
    if (raw === null || this.writing !== null) return;
    const shared: ControlState = parseRecord(controlStateSchema, raw, 'operator control state');
    this.applying = true;
    try {
      if (shared.stopRequested && !this.control.stopRequested) this.control.stop();
      if (shared.paused && !this.control.paused) this.control.pause();
      else if (!shared.paused && this.control.paused) this.control.resume();
    } finally {
      this.applying = false;
    }
  }

  close(): void {
    this.unsubscribe();
  }

  private write(state: ControlState): void {
    const write = this.redis
      .set(this.keys.control, JSON.stringify(state))
      .catch((error: Error) => this.logger.warn({ err: error.message }, 'cluster: could not share an operator control change (Redis unavailable)'))
      .finally(() => {
        if (this.writing === write) this.writing = null;
      });
    this.writing = write;
  }
}
