import { describe, expect, it } from 'vitest';
import { ConnectionLimiter, TokenBucket, payloadBytes } from '../src/auth/connection-limiter.js';

describe('TokenBucket', () => {
  it('allows a burst of capacity, then refills at the rate', () => {
    let t = 0;
    const bucket = new TokenBucket(3, 2, () => t);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    t = 499;
    expect(bucket.take()).toBe(false);
    t = 500;
    expect(bucket.take()).toBe(true);
    t = 100_000;
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  });
});

describe('ConnectionLimiter', () => {
  const limits = { messagesPerSecond: 10, messageBurst: 5, bytesPerSecond: 1000, byteBurst: 2000, maxViolations: 3 };

  it('refuses over the message rate, then disconnects after maxViolations refusals in a row', () => {
    const limiter = new ConnectionLimiter(limits, () => 0);
    for (let i = 0; i < 5; i++) expect(limiter.admit(0)).toBe('ok');
    expect([limiter.admit(0), limiter.admit(0), limiter.admit(0)]).toEqual(['refuse', 'refuse', 'disconnect']);
  });

  it('an admitted message resets the violation count; bytes are limited too', () => {
    let t = 0;
    const limiter = new ConnectionLimiter(limits, () => t);
    expect(limiter.admit(1500)).toBe('ok');
    expect(limiter.admit(1000)).toBe('refuse');
    t = 1000;
    expect(limiter.admit(1000)).toBe('ok');
    expect(limiter.admit(3000)).toBe('refuse'); // capped at the burst, and the bucket is empty
  });

  it('counts binary bytes of a payload', () => {
    expect(payloadBytes(new Uint8Array(10))).toBe(10);
    expect(payloadBytes({ data: new Uint8Array(7), index: 1 })).toBe(7);
    expect(payloadBytes(null)).toBe(0);
  });
});
