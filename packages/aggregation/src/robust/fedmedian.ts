/**
 * FedMedian: the coordinate-wise median of the updates (Yin, Chen, Ramchandran & Bartlett,
 * "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates", ICML 2018),
 * as Flower's `FedMedian`: `numpy.median` per coordinate, so with an even number of
 * updates the mean of the two middle values. Example counts are ignored (a client could
 * claim any count), so every reply weighs the same.
 *
 * Each coordinate stays inside the honest values' range while fewer than half the replies
 * are Byzantine, however large theirs are.
 */
import type { Strategy } from '../strategy.js';
import { assertOptionsObject } from '../options.js';
import { middleRanks } from './reductions.js';
import { commonOptions, COMMON_OPTION_NAMES, type RobustCommonOptions } from './robust-options.js';
import { robustStrategy } from './robust-strategy.js';

export type FedMedianOptions = RobustCommonOptions;
export const FEDMEDIAN_OPTION_NAMES = COMMON_OPTION_NAMES;

/**
 * Creates a FedMedian strategy.
 *
 * @example
 * const strategy = fedMedian(); // or createStrategy({ name: 'fedmedian' })
 */
export function fedMedian(options: FedMedianOptions = {}): Strategy {
  assertOptionsObject(options, FEDMEDIAN_OPTION_NAMES, 'fedMedian');
  return robustStrategy({
    name: 'fedmedian',
    what: 'fedMedian()',
    ...commonOptions(options, 1, 'one update'),
    step: ({ store }) => {
      const [lo, hi] = middleRanks(store.count);
      // Halve each middle value before adding: (a + b) / 2 could overflow for huge finite values.
      const sum = store.reduceColumns({ kind: 'ranks', from: lo, to: hi + 1, scale: lo === hi ? 1 : 0.5 });
      return { sum, divisor: 1 };
    },
  });
}
