/**
 * Per-connection flow limits: two token buckets, one for messages and one for inbound
 * payload bytes. A message over either budget is refused with `rate-limited` (cheaply,
 * before it is parsed), so a flooding client slows only itself; after `maxViolations`
 * refusals in a row the connection is dropped. The clock is injected for tests.
 */
import type { ConnectionLimits } from '../security-config.js';

/** A token bucket: `capacity` tokens, refilled at `ratePerSecond`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    readonly ratePerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  /** Takes `cost` tokens if available; false (taking nothing) otherwise. */
  take(cost = 1): boolean {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }
}

export type LimitVerdict = 'ok' | 'refuse' | 'disconnect';

export class ConnectionLimiter {
  private readonly messages: TokenBucket;
  private readonly bytes: TokenBucket;
  private violations = 0;

  constructor(
    private readonly limits: ConnectionLimits,
    now: () => number = Date.now,
  ) {
    this.messages = new TokenBucket(limits.messageBurst, limits.messagesPerSecond, now);
    this.bytes = new TokenBucket(limits.byteBurst, limits.bytesPerSecond, now);
  }

  /** Accounts one inbound message of `bytes` payload bytes. */
  admit(bytes: number): LimitVerdict {
    if (this.messages.take(1) && this.bytes.take(Math.min(bytes, this.limits.byteBurst))) {
      this.violations = 0;
      return 'ok';
    }
    this.violations++;
    return this.violations >= this.limits.maxViolations ? 'disconnect' : 'refuse';
  }
}

/** Binary payload bytes of a message (chunk data and other byte fields one level deep). */
export function payloadBytes(payload: unknown): number {
  if (payload instanceof Uint8Array || payload instanceof ArrayBuffer) return payload.byteLength;
  if (typeof payload !== 'object' || payload === null) return 0;
  let total = 0;
  for (const value of Object.values(payload as Record<string, unknown>)) {
    if (value instanceof Uint8Array || value instanceof ArrayBuffer) total += value.byteLength;
  }
  return total;
}
