/**
 * Bulyan (El Mhamdi, Guerraoui & Rouault, ICML 2018), as Flower's `Bulyan` with Krum as the
 * first rule: select θ = n − 2f updates by Krum, one at a time (krum-select.ts); then, per
 * coordinate, average the β = θ − 2f selected values closest to their median. Needs
 * n ≥ 4f + 3. Example counts are ignored; every reply weighs the same.
 *
 * Ties among equally close values go to the smaller values (Flower's `argpartition` leaves
 * them to the input order); with f = 0 Bulyan is the plain mean.
 */
import { assertOptionsObject } from '../options.js';
import type { Strategy } from '../strategy.js';
import { bulyanMinimum, bulyanSelect } from './krum-select.js';
import { commonOptions, COMMON_OPTION_NAMES, maliciousOption } from './robust-options.js';
import type { KrumOptions } from './krum.js';
import { robustStrategy } from './robust-strategy.js';

export type BulyanOptions = KrumOptions;
export const BULYAN_OPTION_NAMES = ['numMaliciousClients', ...COMMON_OPTION_NAMES] as const;

/**
 * Creates a Bulyan strategy.
 *
 * @example
 * const strategy = bulyan({ numMaliciousClients: 2 }); // rounds need ≥ 11 replies
 */
export function bulyan(options: BulyanOptions = {}): Strategy {
  assertOptionsObject(options, BULYAN_OPTION_NAMES, 'bulyan');
  const f = maliciousOption(options.numMaliciousClients);
  const { minReplies, kernel } = commonOptions(options, bulyanMinimum(f), `Bulyan needs n ≥ 4f + 3 = ${bulyanMinimum(f)}`);
  return robustStrategy({
    name: 'bulyan',
    what: 'bulyan()',
    minReplies,
    kernel,
    step: ({ store, clientIds }) => {
      const selected = bulyanSelect(store.distances(), clientIds, f);
      const beta = selected.length - 2 * f;
      return { sum: store.reduceColumns({ kind: 'closest', beta }, selected), divisor: 1, metrics: { krumSelected: selected.length } };
    },
  });
}
