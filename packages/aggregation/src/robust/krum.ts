/**
 * Krum and Multi-Krum (Blanchard et al., NeurIPS 2017) as strategies, with Flower's
 * parameter names (`Krum(num_malicious_clients, num_clients_to_keep)`): Krum moves the
 * model by the one update whose n − f − 2 nearest neighbours are closest (krum-select.ts);
 * Multi-Krum by the plain mean of the m best-scored updates.
 *
 * Differences from Flower, on purpose: Multi-Krum's mean is unweighted, as in the paper
 * (Flower weights the kept updates by example counts, which lets a Byzantine client that
 * survives selection claim a huge count); ties go to the smaller client id, not to arrival
 * order; and fewer than 2f + 3 replies (Flower carries on) fail the round (`null`), since
 * the guarantee no longer holds.
 */
import type { KernelChoice } from '../kernels/weighted-sum.js';
import { createWeightedSum } from '../kernels/weighted-sum.js';
import { assertOptionsObject, integerOption } from '../options.js';
import type { Strategy } from '../strategy.js';
import { krumMinimum, krumSelect } from './krum-select.js';
import { commonOptions, COMMON_OPTION_NAMES, maliciousOption, type RobustCommonOptions } from './robust-options.js';
import { robustStrategy, type RobustRound, type RobustStep } from './robust-strategy.js';

export interface KrumOptions extends RobustCommonOptions {
  /**
   * f: how many Byzantine replies to tolerate. A round needs n ≥ 2f + 3 replies.
   * @default 0
   */
  numMaliciousClients?: number;
}

export interface MultiKrumOptions extends KrumOptions {
  /**
   * m ≥ 1: how many best-scored updates to average (Flower's `num_clients_to_keep`).
   * Rounds need n ≥ m replies.
   * @default n − f, each round: all but as many updates as there may be Byzantine clients
   */
  numClientsToKeep?: number;
}

export const KRUM_OPTION_NAMES = ['numMaliciousClients', ...COMMON_OPTION_NAMES] as const;
export const MULTIKRUM_OPTION_NAMES = ['numMaliciousClients', 'numClientsToKeep', ...COMMON_OPTION_NAMES] as const;

/**
 * Creates a Krum strategy.
 *
 * @example
 * const strategy = krum({ numMaliciousClients: 2 }); // rounds need ≥ 7 replies
 */
export function krum(options: KrumOptions = {}): Strategy {
  assertOptionsObject(options, KRUM_OPTION_NAMES, 'krum');
  const f = maliciousOption(options.numMaliciousClients);
  const { minReplies, kernel } = commonOptions(options, krumMinimum(f), `Krum needs n ≥ 2f + 3 = ${krumMinimum(f)}`);
  return robustStrategy({ name: 'krum', what: 'krum()', minReplies, kernel, step: (round) => multiKrumStep(round, f, 1, kernel) });
}

/**
 * Creates a Multi-Krum strategy.
 *
 * @example
 * const strategy = multiKrum({ numMaliciousClients: 10, numClientsToKeep: 60 });
 */
export function multiKrum(options: MultiKrumOptions = {}): Strategy {
  assertOptionsObject(options, MULTIKRUM_OPTION_NAMES, 'multiKrum');
  const f = maliciousOption(options.numMaliciousClients);
  const m = options.numClientsToKeep === undefined ? null : integerOption(options.numClientsToKeep, 'numClientsToKeep', 1, 1);
  const minimum = Math.max(krumMinimum(f), m ?? 0);
  const { minReplies, kernel } = commonOptions(options, minimum, `Multi-Krum needs n ≥ max(2f + 3, m) = ${minimum}`);
  return robustStrategy({
    name: 'multikrum',
    what: 'multiKrum()',
    minReplies,
    kernel,
    step: (round) => multiKrumStep(round, f, m ?? round.clientIds.length - f, kernel),
  });
}

function multiKrumStep({ store, clientIds }: RobustRound, f: number, m: number, kernel: KernelChoice): RobustStep {
  const chosen = krumSelect(store.distances(), clientIds, f, m);
  const metrics = { krumSelected: chosen.length };
  if (chosen.length === 1) return { sum: store.row(chosen[0]!).slice(), divisor: 1, metrics };
  // Summed in client-id order, so the float sum does not depend on arrival order either.
  chosen.sort((a, b) => (clientIds[a]! < clientIds[b]! ? -1 : 1));
  const sum = createWeightedSum(store.length, kernel);
  try {
    for (const r of chosen) sum.add(store.row(r), 1);
    return { sum: sum.sum().slice(), divisor: chosen.length, metrics };
  } finally {
    sum.release();
  }
}
