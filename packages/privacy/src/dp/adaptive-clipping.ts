/**
 * DP-FedAvg with adaptive clipping (Andrew et al. 2021, arXiv:1905.03871; TFF's
 * `gaussian_adaptive`, Flower's adaptive-clipping wrappers): instead of guessing S, the
 * server moves it each round towards the γ-quantile of client update norms, privately, so
 * S follows the norms as they shrink over training. The noise budget z_total is split
 * between the updates (z) and the count of unclipped clients (σ_b); see adaptive-math.ts.
 *
 * In central mode the server clips and counts itself; in distributed mode S goes to the
 * clients in the train config and each reports the `dpUnclipped` bit with its update.
 */
import type { Strategy } from '@fedkit/aggregation';
import type { RandomSource } from '@fedkit/protocol';
import { assertInClosedRange, assertNonNegativeFinite, assertPositiveFinite } from '../validate.js';
import { ADAPTIVE_CLIPPING_DEFAULTS, adaptiveNoiseSplit } from './adaptive-math.js';
import { assertStrategy, createDpStrategy, type DpStrategy, type DpStrategyMode } from './dp-strategy.js';
import { assertOptionsObject, assertPositiveInteger, numberOption } from './options.js';
import { resolveRandom } from './random-guard.js';

export interface AdaptiveClippingOptions {
  /** Who clips and adds the update noise. @default 'central' */
  mode?: DpStrategyMode;
  /**
   * z_total ≥ 0: the noise multiplier of the whole round (updates and count together), the
   * one to plan the budget with. The update noise is slightly larger.
   */
  noiseMultiplier: number;
  /** m > 0: the expected number of clients per round, the fixed denominator. */
  expectedClients: number;
  /** S before the first round. @default 0.1 */
  initialClipNorm?: number;
  /** γ ∈ [0, 1]: the fraction of clients whose update should stay unclipped. @default 0.5 */
  targetQuantile?: number;
  /** η > 0 of the geometric update S ← S·exp(−η(b̄ − γ)). @default 0.2 */
  clipLearningRate?: number;
  /** σ_b ≥ 0, noise on the count of unclipped clients. @default expectedClients / 20 (0 when noiseMultiplier is 0) */
  clippedCountStddev?: number;
  /** @default 1 */
  minReplies?: number;
  /** Draws the server's noise. @default cryptoRandomSource() */
  random?: RandomSource;
}

const OPTION_NAMES = [
  'mode',
  'noiseMultiplier',
  'expectedClients',
  'initialClipNorm',
  'targetQuantile',
  'clipLearningRate',
  'clippedCountStddev',
  'minReplies',
  'random',
] as const;

/**
 * Wraps `strategy` in DP-FedAvg with adaptive clipping. Throws `RangeError` when
 * z_total ≥ 2σ_b (the count noise alone cannot stay within the budget).
 *
 * @example
 * const strategy = withAdaptiveClipping(fedAvg(), { noiseMultiplier: 1, expectedClients: 100 });
 * strategy.clipNorm; // 0.1, then moving towards the median update norm
 * strategy.toJSON(); // { kind: 'dp-strategy', ..., clipNorm } to persist between rounds
 */
export function withAdaptiveClipping(strategy: Strategy, options: AdaptiveClippingOptions): DpStrategy {
  assertStrategy(strategy, 'withAdaptiveClipping');
  assertOptionsObject(options, OPTION_NAMES, 'withAdaptiveClipping');
  const mode = options.mode ?? 'central';
  if (mode !== 'central' && mode !== 'distributed') {
    throw new TypeError(`mode must be 'central' or 'distributed', got ${JSON.stringify(mode)}`);
  }
  assertNonNegativeFinite('noiseMultiplier', options.noiseMultiplier);
  assertPositiveFinite('expectedClients', options.expectedClients);
  const d = ADAPTIVE_CLIPPING_DEFAULTS;
  const initialClipNorm = numberOption(options.initialClipNorm, 'initialClipNorm', d.initialClipNorm, assertPositiveFinite);
  const targetQuantile = numberOption(options.targetQuantile, 'targetQuantile', d.targetQuantile, (name, value) =>
    assertInClosedRange(name, value, 0, 1),
  );
  const clipLearningRate = numberOption(options.clipLearningRate, 'clipLearningRate', d.clipLearningRate, assertPositiveFinite);
  const split = adaptiveNoiseSplit({
    noiseMultiplier: options.noiseMultiplier,
    expectedClients: options.expectedClients,
    ...(options.clippedCountStddev === undefined ? {} : { clippedCountStddev: options.clippedCountStddev }),
  });
  return createDpStrategy(strategy, {
    name: `dp-adaptive-${mode}(${strategy.name})`,
    mode,
    expectedClients: options.expectedClients,
    minReplies: numberOption(options.minReplies, 'minReplies', 1, assertPositiveInteger),
    random: resolveRandom(options.random),
    updateNoiseMultiplier: split.updateNoiseMultiplier,
    initialClipNorm,
    adaptive: { targetQuantile, clipLearningRate, clippedCountStddev: split.clippedCountStddev },
  });
}
