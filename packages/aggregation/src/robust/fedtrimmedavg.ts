/**
 * FedTrimmedAvg: the coordinate-wise β-trimmed mean of the updates (Yin et al., ICML 2018):
 * per coordinate, drop the ⌊β·n⌋ smallest and the ⌊β·n⌋ largest values and average the
 * rest, as Flower's `FedTrimmedAvg(beta)` (scipy's `trim_mean(proportiontocut=beta)`).
 * Example counts are ignored; every reply weighs the same. Tolerates up to ⌊β·n⌋ Byzantine
 * replies per coordinate.
 */
import type { Strategy } from '../strategy.js';
import { assertOptionsObject } from '../options.js';
import { realOption } from '../range-options.js';
import { commonOptions, COMMON_OPTION_NAMES, type RobustCommonOptions } from './robust-options.js';
import { robustStrategy } from './robust-strategy.js';

export interface FedTrimmedAvgOptions extends RobustCommonOptions {
  /**
   * β ∈ [0, 0.5): the fraction cut off each tail (Flower's `beta`). 0 is the plain mean.
   * @default 0.2
   */
  beta?: number;
}

export const FEDTRIMMEDAVG_OPTION_NAMES = ['beta', ...COMMON_OPTION_NAMES] as const;

/** How many values each tail loses: ⌊β·n⌋, as `int(proportiontocut * nobs)` in scipy and Flower. */
export const trimmedPerSide = (beta: number, n: number): number => Math.floor(beta * n);

/**
 * Creates a FedTrimmedAvg strategy.
 *
 * @example
 * const strategy = fedTrimmedAvg({ beta: 0.1 }); // 100 replies: drop 10 on each side of each coordinate
 */
export function fedTrimmedAvg(options: FedTrimmedAvgOptions = {}): Strategy {
  assertOptionsObject(options, FEDTRIMMEDAVG_OPTION_NAMES, 'fedTrimmedAvg');
  const beta = realOption(options.beta, 'beta', 0.2, { min: 0, max: 0.5, maxOpen: true });
  return robustStrategy({
    name: 'fedtrimmedavg',
    what: 'fedTrimmedAvg()',
    ...commonOptions(options, 1, 'one update'),
    step: ({ store }) => {
      const n = store.count;
      const k = trimmedPerSide(beta, n);
      // β < 0.5 keeps n − 2k ≥ 1.
      const sum = store.reduceColumns({ kind: 'ranks', from: k, to: n - k, scale: 1 / (n - 2 * k) });
      return { sum, divisor: 1, metrics: { trimmedPerSide: k } };
    },
  });
}
