/**
 * Churn's timeline (pure): the offline share is the configured fraction from time 0, the
 * periods alternate with the configured means, and a seed gives the same timeline.
 */
import { describe, expect, it } from 'vitest';
import { churnPeriods, meanOfflineMs, onlineAt } from '@fedkit/simulation';

const churn = { offlineFraction: 0.3, meanOnlineMs: 2000 };

describe('churn timeline', () => {
  it('keeps the configured fraction of clients offline at any time, from the start', () => {
    const clients = 2000;
    for (const t of [0, 1000, 5000, 20_000, 60_000]) {
      let offline = 0;
      for (let i = 0; i < clients; i++) if (!onlineAt(5, i, churn, t)) offline++;
      // Binomial(2000, 0.3): standard deviation ≈ 0.010.
      expect(Math.abs(offline / clients - 0.3), `at ${t} ms`).toBeLessThan(0.04);
    }
  });

  it('alternates online and offline periods with the configured means', () => {
    expect(meanOfflineMs(churn)).toBeCloseTo((2000 * 0.3) / 0.7, 9);
    const sums = { on: 0, off: 0, nOn: 0, nOff: 0 };
    for (let i = 0; i < 200; i++) {
      const periods = churnPeriods(1, i, churn);
      let previous: boolean | null = null;
      let end = 0;
      for (let k = 0; k < 50; k++) {
        const p = periods.next().value;
        expect(p.startMs).toBe(end);
        expect(p.endMs).toBeGreaterThan(p.startMs);
        if (previous !== null) expect(p.online).toBe(!previous);
        previous = p.online;
        end = p.endMs;
        if (p.online) {
          sums.on += p.endMs - p.startMs;
          sums.nOn++;
        } else {
          sums.off += p.endMs - p.startMs;
          sums.nOff++;
        }
      }
    }
    // 5000 periods of each kind: the means are within a few percent.
    expect(sums.on / sums.nOn / 2000).toBeGreaterThan(0.93);
    expect(sums.on / sums.nOn / 2000).toBeLessThan(1.07);
    expect(sums.off / sums.nOff / meanOfflineMs(churn)).toBeGreaterThan(0.93);
    expect(sums.off / sums.nOff / meanOfflineMs(churn)).toBeLessThan(1.07);
  });

  it('is a function of (seed, client): same seed same timeline, another seed another', () => {
    const take = (seed: number, index: number): number[] => {
      const periods = churnPeriods(seed, index, churn);
      return Array.from({ length: 10 }, () => periods.next().value.endMs);
    };
    expect(take(3, 4)).toEqual(take(3, 4));
    expect(take(3, 4)).not.toEqual(take(4, 4));
    expect(take(3, 4)).not.toEqual(take(3, 5));
  });
});
