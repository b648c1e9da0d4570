/**
 * The engine behind every server-side DP wrapper (central or distributed, fixed or adaptive
 * clip): it folds clipped updates with equal weights, adds the Gaussian noise to the sum,
 * divides by the *expected* number of clients m (DP-FedAvg's fixed denominator, so the
 * noise scale does not depend on how many replied), and hands the noised mean to the
 * wrapped strategy as a single reply.
 *
 * The wrapped strategy only ever sees the noised mean, so whatever it does with it (FedAvg
 * applies it; a server optimizer would step along it) is post-processing and keeps the
 * guarantee. Its `minReplies` must therefore be 1; the wrapper has its own.
 *
 * Differences from Flower's DP wrappers, by design: updates weigh equally (Flower keeps the
 * inner strategy's example weights); inputs are never mutated (Flower clips replies in
 * place); the adaptive clip is updated after noising with the clip the round used (Flower's
 * server-side adaptive wrapper updates it first and noises with the new one); the noised
 * count is divided by the expected m, as in tensorflow_privacy, not by the replies.
 */
import type { AggregateResult, ConfigValue, Failure, Strategy, TrainReply, UpdateAccumulator } from '@fedkit/aggregation';
import { FedkitError, layoutSize, type RandomSource, type WeightsLayout } from '@fedkit/protocol';
import { gaussianSampler } from '../gaussian.js';
import { assertPositiveFinite } from '../validate.js';
import { combinedNoiseMultiplier, nextClipNorm, noisedUnclippedFraction } from './adaptive-math.js';
import { DP_CONFIG_KEYS } from './config-keys.js';
import { DpAccumulator, type ClipSite } from './dp-accumulator.js';

/** `'central'`: the server clips and adds all noise. `'distributed'`: clients do both. */
export type DpStrategyMode = 'central' | 'distributed';

/** What the server charges the accountant with for one round, known before it starts. */
export interface DpRoundFacts {
  mode: DpStrategyMode;
  /**
   * The noise multiplier of the round's whole release when all m expected clients reply:
   * z for a fixed clip, z_total (update and clipped count together) for an adaptive one.
   */
  noiseMultiplier: number;
  /** q = min(1, m / available clients): the (Poisson-approximated) chance a client takes part. */
  samplingRate: number;
  /** S for the round. */
  clipNorm: number;
  expectedClients: number;
}

/** What one aggregated round actually released. */
export interface DpRoundRecord {
  round: number;
  /** Replies folded (n). */
  replies: number;
  /** The clip S that bounded this round's updates. */
  clipNorm: number;
  /**
   * The noise multiplier to charge for this round. Equal to the planned one in central mode;
   * in distributed mode only n clients' noise is in the sum, so it is z·√(n/m) (combined
   * with the count noise under adaptive clipping).
   */
  noiseMultiplier: number;
  /** Stddev of the noise on each coordinate of the averaged update. */
  noiseStddev: number;
  /** The noised fraction b̄ of clients with ‖Δ‖ ≤ S (adaptive clipping), else `null`. */
  unclippedFraction: number | null;
  /** The clip for the next round. */
  nextClipNorm: number;
}

/** What `toJSON` returns and `fromJSON` accepts. */
export interface DpStrategyState {
  kind: 'dp-strategy';
  version: 1;
  /** The wrapper's name, e.g. `"dp-adaptive-central(fedavg)"`; restoring checks it. */
  name: string;
  /** The clip for the next round. */
  clipNorm: number;
  /** The last round aggregated, `null` before the first. */
  lastRound: number | null;
}

/** A strategy with DP applied, and what a server needs to account for it and persist it. */
export interface DpStrategy extends Strategy {
  readonly mode: DpStrategyMode;
  readonly adaptive: boolean;
  readonly expectedClients: number;
  /** S for the next round to be configured. */
  readonly clipNorm: number;
  /** Which kind of random source draws the server's noise; see `assertProductionRandom`. */
  readonly random: { readonly kind: RandomSource['kind'] };
  /** The last round aggregated, `null` before the first. */
  readonly lastRound: DpRoundRecord | null;
  /**
   * The facts for the next round, to check the budget before starting it
   * (`accountant.wouldExceed(budget, facts)`).
   *
   * @param input.availableClients clients the server samples the m expected ones from
   */
  privacyFacts(input: { availableClients: number }): DpRoundFacts;
  toJSON(): DpStrategyState;
  /** Restores `toJSON()` output; throws `FedkitError('config-invalid')` on a bad or foreign state. */
  fromJSON(state: unknown): void;
}

/** How a wrapper configures the engine (options already validated). */
export interface DpStrategySpec {
  name: string;
  mode: DpStrategyMode;
  expectedClients: number;
  minReplies: number;
  random: RandomSource;
  /** z of the update noise (central: the server's; distributed: the clients' total). */
  updateNoiseMultiplier: number;
  initialClipNorm: number;
  adaptive: { targetQuantile: number; clipLearningRate: number; clippedCountStddev: number } | null;
}

/** The synthetic reply that carries the noised mean into the wrapped strategy. */
export const DP_AGGREGATE_CLIENT_ID = 'dp-aggregate';

const STRATEGY_VERBS = ['configureTrain', 'beginTrain', 'aggregateTrain', 'configureEvaluate', 'aggregateEvaluate'] as const;

export function assertStrategy(strategy: unknown, what: string): asserts strategy is Strategy {
  const s = strategy as Partial<Record<string, unknown>> | null;
  if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || STRATEGY_VERBS.some((verb) => typeof s[verb] !== 'function')) {
    throw new TypeError(`${what} must wrap a Strategy (an object with name, ${STRATEGY_VERBS.join(', ')})`);
  }
}

/** Builds the DP strategy described by `spec` around `inner`. */
export function createDpStrategy(inner: Strategy, spec: Readonly<DpStrategySpec>): DpStrategy {
  const { mode, expectedClients: m, minReplies, random, updateNoiseMultiplier: z, adaptive } = spec;
  const clipSite: ClipSite = mode === 'central' ? 'server' : 'client';
  const sigmaB = adaptive?.clippedCountStddev ?? 0;
  let clipNorm = spec.initialClipNorm;
  let lastRound: DpRoundRecord | null = null;
  let lastRoundNumber: number | null = null;
  const owner = {};

  /** z of what a round releases when n of the m expected clients' noise is in the sum. */
  const releasedNoiseMultiplier = (n: number): number => {
    const update = mode === 'central' ? z : z * Math.sqrt(n / m);
    return adaptive === null ? update : combinedNoiseMultiplier(update, sigmaB);
  };

  const strategy: DpStrategy = {
    name: spec.name,
    mode,
    adaptive: adaptive !== null,
    expectedClients: m,
    random: Object.freeze({ kind: random.kind }),
    get clipNorm() {
      return clipNorm;
    },
    get lastRound() {
      return lastRound === null ? null : { ...lastRound };
    },

    configureTrain(round, base) {
      const config = inner.configureTrain(round, base);
      if (config === null) return null;
      const extras: Record<string, ConfigValue> = { [DP_CONFIG_KEYS.mode]: mode, [DP_CONFIG_KEYS.clipNorm]: clipNorm };
      // Central mode: clients must not add noise of their own, so they are not told z.
      if (mode === 'distributed') {
        extras[DP_CONFIG_KEYS.noiseMultiplier] = z;
        extras[DP_CONFIG_KEYS.expectedClients] = m;
      }
      return { ...config, ...extras };
    },

    beginTrain(round: number, global: Float32Array, layout: WeightsLayout): UpdateAccumulator {
      if (!(global instanceof Float32Array)) throw new TypeError('global weights must be a Float32Array');
      const size = layoutSize(layout);
      if (size !== global.length) {
        throw new FedkitError('weights-layout-invalid', `global weights have ${global.length} floats, the layout describes ${size}`);
      }
      return new DpAccumulator({ owner, round, global, layout, clipNorm, clipSite, needsClientBits: adaptive !== null && clipSite === 'client' });
    },

    aggregateTrain(round: number, accumulator: UpdateAccumulator, failures: readonly Failure[]): AggregateResult | null {
      if (!(accumulator instanceof DpAccumulator) || accumulator.setup.owner !== owner) {
        throw new TypeError(`accumulator was not created by this ${spec.name} strategy's beginTrain`);
      }
      const { setup } = accumulator;
      if (setup.round !== round) throw new RangeError(`accumulator belongs to round ${setup.round}, not round ${round}`);
      const sum = accumulator.take();
      const n = accumulator.count;
      if (n < minReplies) return null;

      const s = setup.clipNorm;
      const normal = gaussianSampler(random);
      const sumStddev = clipSite === 'server' ? z * s : 0;
      const mean = new Float32Array(sum.length);
      if (sumStddev > 0) for (let i = 0; i < mean.length; i++) mean[i] = (sum[i]! + sumStddev * normal()) / m;
      else for (let i = 0; i < mean.length; i++) mean[i] = sum[i]! / m;

      let unclippedFraction: number | null = null;
      let next = s;
      if (adaptive !== null) {
        unclippedFraction = noisedUnclippedFraction({
          unclippedCount: accumulator.unclippedCount,
          replies: n,
          expectedClients: m,
          clippedCountStddev: sigmaB,
          standardNormal: sigmaB > 0 ? normal() : 0,
        });
        next = nextClipNorm(s, unclippedFraction, adaptive);
      }

      const reply: TrainReply = { clientId: DP_AGGREGATE_CLIENT_ID, numExamples: 1, update: mean, metrics: accumulator.metrics.means() };
      const innerAccumulator = inner.beginTrain(round, setup.global, setup.layout);
      innerAccumulator.add(reply);
      const result = inner.aggregateTrain(round, innerAccumulator, failures);
      // Nothing was released: keep the clip, so the noised count is not used either.
      if (result === null) return null;

      const noiseStddev = clipSite === 'server' ? sumStddev / m : (z * s * Math.sqrt(n / m)) / m;
      lastRound = { round, replies: n, clipNorm: s, noiseMultiplier: releasedNoiseMultiplier(n), noiseStddev, unclippedFraction, nextClipNorm: next };
      lastRoundNumber = round;
      clipNorm = next;
      const metrics: Record<string, number> = {
        ...result.metrics,
        numClients: n,
        numExamples: accumulator.numExamples,
        dpClipNorm: s,
        dpNoiseMultiplier: lastRound.noiseMultiplier,
        dpNoiseStddev: noiseStddev,
      };
      if (unclippedFraction !== null) metrics.dpUnclippedFraction = unclippedFraction;
      return { weights: result.weights, metrics };
    },

    configureEvaluate: (round, base) => inner.configureEvaluate(round, base),

    aggregateEvaluate: (round, replies, failures) => inner.aggregateEvaluate(round, replies, failures),

    privacyFacts(input) {
      const available = input?.availableClients;
      if (typeof available !== 'number' || !Number.isSafeInteger(available) || available < 1) {
        throw new RangeError(`availableClients must be an integer ≥ 1, got ${String(available)}`);
      }
      return { mode, noiseMultiplier: releasedNoiseMultiplier(m), samplingRate: Math.min(1, m / available), clipNorm, expectedClients: m };
    },

    toJSON: () => ({ kind: 'dp-strategy', version: 1, name: spec.name, clipNorm, lastRound: lastRoundNumber }),

    fromJSON(state) {
      const restored = parseState(state, spec.name);
      if (adaptive === null && restored.clipNorm !== spec.initialClipNorm) {
        throw new FedkitError(
          'config-invalid',
          `invalid DP strategy state: clipNorm ${restored.clipNorm} differs from this strategy's fixed clipNorm ${spec.initialClipNorm}`,
        );
      }
      clipNorm = restored.clipNorm;
      lastRoundNumber = restored.lastRound;
      lastRound = null;
    },

    // The wrapper's own state with the wrapped strategy's (e.g. FedAdam's moments under DP).
    exportState: () => ({ kind: 'dp-wrapped', wrapper: strategy.toJSON(), inner: inner.exportState?.() ?? null }),

    importState(state) {
      const s = state as { kind?: unknown; wrapper?: unknown; inner?: unknown } | null;
      if (typeof s !== 'object' || s === null || s.kind !== 'dp-wrapped') {
        throw new FedkitError('config-invalid', `invalid DP strategy state: kind must be 'dp-wrapped', got ${String(s?.kind)}`);
      }
      parseState(s.wrapper, spec.name);
      if (s.inner !== null && s.inner !== undefined) {
        if (inner.importState === undefined) throw new FedkitError('config-invalid', `invalid DP strategy state: ${inner.name} keeps no state to restore`);
        inner.importState(s.inner);
      }
      strategy.fromJSON(s.wrapper);
    },
  };
  return strategy;
}

function parseState(state: unknown, name: string): DpStrategyState {
  try {
    if (typeof state !== 'object' || state === null) throw new TypeError('state must be an object');
    const s = state as Partial<Record<keyof DpStrategyState, unknown>>;
    if (s.kind !== 'dp-strategy') throw new TypeError(`state.kind must be 'dp-strategy', got ${String(s.kind)}`);
    if (s.version !== 1) throw new RangeError(`state.version must be 1, got ${String(s.version)}`);
    if (s.name !== name) throw new RangeError(`state.name is ${JSON.stringify(s.name)}, this strategy is "${name}"`);
    assertPositiveFinite('state.clipNorm', s.clipNorm);
    const last = s.lastRound;
    if (last !== null && !(typeof last === 'number' && Number.isSafeInteger(last) && last >= 0)) {
      throw new RangeError(`state.lastRound must be null or an integer ≥ 0, got ${String(last)}`);
    }
    return { kind: 'dp-strategy', version: 1, name, clipNorm: s.clipNorm, lastRound: last };
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new FedkitError('config-invalid', `invalid DP strategy state: ${error.message}`);
    }
    throw error;
  }
}
