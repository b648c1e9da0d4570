/**
 * Client churn: when each virtual client is online. A client alternates online and offline
 * periods drawn (seeded per client, never from a shared stream) from exponential
 * distributions with means `meanOnlineMs` and `meanOfflineMs = meanOnlineMs·f/(1−f)`, so that
 * in the long run a fraction f is offline. The first state is offline with probability f
 * and, the exponential being memoryless, the first period has the same distribution as the
 * rest: the offline share is f from time 0, not only after a warm-up. Pure: times are ms
 * since a shared epoch, and the virtual client turns the transitions into real disconnects
 * and reconnects.
 */
import { SEED_PURPOSE, derivedRandom } from './seeds.js';

export interface ChurnSettings {
  /** f in (0, 1): the share of clients offline at any time. */
  offlineFraction: number;
  meanOnlineMs: number;
}

/**
 * Shortest period (ms): a client that drops and rejoins within a few ms would race its own
 * disconnect at the server. Clamping an exponential of mean μ at m gives mean m + μ·e^(−m/μ);
 * the config refuses means under 5·m (config.ts), where that is 1.8% longer.
 */
export const MIN_PERIOD_MS = 50;

/** The mean offline period that makes `offlineFraction` of the time offline. */
export function meanOfflineMs(churn: ChurnSettings): number {
  return (churn.meanOnlineMs * churn.offlineFraction) / (1 - churn.offlineFraction);
}

/** One stretch of a client's timeline: online or not from `startMs` (inclusive) to `endMs`. */
export interface ChurnPeriod {
  online: boolean;
  startMs: number;
  endMs: number;
}

/**
 * Client `index`'s periods from time 0 on, lazily (the timeline never ends).
 *
 * @example const [first] = churnPeriods(7, 3, { offlineFraction: 0.3, meanOnlineMs: 20_000 });
 */
export function* churnPeriods(seed: number, index: number, churn: ChurnSettings): Generator<ChurnPeriod, never> {
  const random = derivedRandom(seed, SEED_PURPOSE.churn, index, 0);
  const offMean = meanOfflineMs(churn);
  const exponential = (mean: number): number => Math.max(MIN_PERIOD_MS, -mean * Math.log(1 - random.nextFloat()));
  let online = random.nextFloat() >= churn.offlineFraction;
  let startMs = 0;
  for (;;) {
    const endMs = startMs + exponential(online ? churn.meanOnlineMs : offMean);
    yield { online, startMs, endMs };
    online = !online;
    startMs = endMs;
  }
}

/** Whether client `index` is online at `timeMs` (for tests and reports; walks its timeline). */
export function onlineAt(seed: number, index: number, churn: ChurnSettings, timeMs: number): boolean {
  for (const period of churnPeriods(seed, index, churn)) if (timeMs < period.endMs) return period.online;
  throw new Error('unreachable');
}
