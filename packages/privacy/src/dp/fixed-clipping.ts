/**
 * DP-FedAvg with a fixed clip norm (McMahan, Ramage, Talwar & Zhang 2018, arXiv:1710.06963;
 * TFF's `gaussian_fixed`), as wrappers that take a strategy and return one (STYLE §5):
 *
 * - `withCentralDp`: the server clips each update to S, sums them with equal weights, adds
 *   N(0, (z·S)²) to the sum and divides by the expected number of clients m, so the noise on
 *   the mean has stddev z·S/m;
 * - `withDistributedDp`: clients clip and add N(0, (z·S)²/m) each (`distributedDpMod`) under
 *   secure aggregation; the server adds nothing and divides the sum by m.
 */
import type { Strategy } from '@fedkit/aggregation';
import type { RandomSource } from '@fedkit/protocol';
import { assertNonNegativeFinite, assertPositiveFinite } from '../validate.js';
import { assertStrategy, createDpStrategy, type DpStrategy } from './dp-strategy.js';
import { assertOptionsObject, assertPositiveInteger, numberOption } from './options.js';
import { resolveRandom } from './random-guard.js';

export interface FixedClipDpOptions {
  /** S > 0: the L2 bound on each client's update. */
  clipNorm: number;
  /** z ≥ 0: noise stddev on the sum in units of S. 0 adds no noise (and gives no privacy). */
  noiseMultiplier: number;
  /** m > 0: the expected number of clients per round, the fixed denominator. */
  expectedClients: number;
  /**
   * Fewest replies for a round to count; with fewer, `aggregateTrain` returns `null`.
   * @default 1
   */
  minReplies?: number;
  /**
   * Draws the server's noise. A seeded source is for tests and simulations only.
   * @default cryptoRandomSource()
   */
  random?: RandomSource;
}

const OPTION_NAMES = ['clipNorm', 'noiseMultiplier', 'expectedClients', 'minReplies', 'random'] as const;

function fixedClipSpec(inner: Strategy, options: FixedClipDpOptions, what: string) {
  assertStrategy(inner, what);
  assertOptionsObject(options, OPTION_NAMES, what);
  assertPositiveFinite('clipNorm', options.clipNorm);
  assertNonNegativeFinite('noiseMultiplier', options.noiseMultiplier);
  assertPositiveFinite('expectedClients', options.expectedClients);
  return {
    inner,
    clipNorm: options.clipNorm,
    noiseMultiplier: options.noiseMultiplier,
    expectedClients: options.expectedClients,
    minReplies: numberOption(options.minReplies, 'minReplies', 1, assertPositiveInteger),
    random: resolveRandom(options.random),
  };
}

/**
 * Central DP (DP-FedAvg, fixed denominator): the server clips, sums with equal weights,
 * adds N(0, (z·S)²) to the sum and divides by m. The wrapped strategy receives only the
 * noised mean (its own `minReplies` must be 1).
 *
 * @example
 * const strategy = withCentralDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 1.1, expectedClients: 100 });
 * accountant.charge(strategy.privacyFacts({ availableClients: 1000 })); // q = 0.1, z = 1.1
 */
export function withCentralDp(strategy: Strategy, options: FixedClipDpOptions): DpStrategy {
  return fixedClipStrategy(strategy, options, 'central', 'withCentralDp');
}

/**
 * Distributed DP: announces S, z and m in the train config for clients'
 * `distributedDpMod`, which clip and add N(0, (z·S)²/m) each; the server sums with equal
 * weights and divides by m without adding noise. Private only when the server sees nothing
 * but the sum (secure aggregation); when n < m clients reply the sum carries noise
 * multiplier z·√(n/m), which `lastRound.noiseMultiplier` reports for the accountant.
 *
 * @example
 * const strategy = withDistributedDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 1.1, expectedClients: 100 });
 */
export function withDistributedDp(strategy: Strategy, options: FixedClipDpOptions): DpStrategy {
  return fixedClipStrategy(strategy, options, 'distributed', 'withDistributedDp');
}

/** The DP strategy with a fixed clip S in `mode`; `caller` names the factory in errors. */
function fixedClipStrategy(strategy: Strategy, options: FixedClipDpOptions, mode: 'central' | 'distributed', caller: string): DpStrategy {
  const spec = fixedClipSpec(strategy, options, caller);
  return createDpStrategy(spec.inner, {
    name: `dp-${mode}(${spec.inner.name})`,
    mode,
    expectedClients: spec.expectedClients,
    minReplies: spec.minReplies,
    random: spec.random,
    updateNoiseMultiplier: spec.noiseMultiplier,
    initialClipNorm: spec.clipNorm,
    adaptive: null,
  });
}
