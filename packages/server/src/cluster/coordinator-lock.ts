/**
 * The coordinator lock: `SET lock <processId> NX PX ttl` to take it, a compare-and-set Lua
 * script to renew it (only the holder may extend it) and to release it on close. A holder
 * that dies stops renewing, the key expires and another process takes it.
 */
import type { Redis } from 'ioredis';
import type { ClusterKeys } from './keys.js';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export class CoordinatorLock {
  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    private readonly processId: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lock if free, or renews it if this process holds it; true when held after. */
  async acquire(): Promise<boolean> {
    const set = await this.redis.set(this.keys.lock, this.processId, 'PX', this.ttlMs, 'NX');
    if (set === 'OK') return true;
    return this.renew();
  }

  /** Extends the lock if this process still holds it; false when it was lost. */
  async renew(): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.keys.lock, this.processId, String(this.ttlMs))) === 1;
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.keys.lock, this.processId);
  }

  /** The holder's process id, or null when free. */
  async holder(): Promise<string | null> {
    return this.redis.get(this.keys.lock);
  }
}
