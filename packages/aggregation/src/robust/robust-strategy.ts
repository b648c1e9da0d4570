/**
 * What every Byzantine-robust strategy shares: the four verbs, the round's bookkeeping, and
 * the last step `global + Δ`. Each strategy only says how to get Δ from the round's updates.
 *
 * Like FedAvg they work on updates Δ_k = local − global, never on weights: the median,
 * trimmed mean and Bulyan of weights are `global +` those of the updates (translation
 * equivariance), and Krum's distances are the same between weights and between updates, so
 * the choice only saves a subtraction and rounding, and keeps every strategy consistent.
 */
import { FedkitError } from '@fedkit/protocol';
import type { KernelChoice } from '../kernels/weighted-sum.js';
import type { AggregateResult, Strategy, UpdateAccumulator } from '../strategy.js';
import { weightedEvaluate } from '../weighted-metrics.js';
import { beginRobustRound, RobustAccumulator } from './robust-accumulator.js';
import type { RowStore } from './row-store.js';

/** A closed round, as a robust strategy's step sees it. */
export interface RobustRound {
  /** The updates, one row per reply, in arrival order (valid during the step only). */
  store: RowStore;
  /** `clientIds[r]` sent row r. */
  clientIds: readonly string[];
}

/** Δ as `sum / divisor` (the division happens in float64, once, when Δ is added to the model). */
export interface RobustStep {
  sum: Float32Array;
  divisor: number;
  /** Strategy-specific round metrics, e.g. how many updates Krum selected. */
  metrics?: Record<string, number>;
}

export interface RobustStrategySpec {
  name: string;
  /** The factory's name, for errors: `"krum()"`. */
  what: string;
  /** Fewest replies to aggregate; with fewer, `aggregateTrain` returns `null`. */
  minReplies: number;
  kernel: KernelChoice;
  step: (round: RobustRound) => RobustStep;
}

/** Builds the strategy; `step` gets at least `minReplies` rows. */
export function robustStrategy(spec: RobustStrategySpec): Strategy {
  const owner = {};
  return {
    name: spec.name,

    configureTrain: (_round, base) => ({ ...base }),

    beginTrain: (round, global, layout): UpdateAccumulator => beginRobustRound(owner, round, global, layout, spec.kernel),

    aggregateTrain(round, accumulator): AggregateResult | null {
      if (!(accumulator instanceof RobustAccumulator) || accumulator.owner !== owner) {
        throw new TypeError(`accumulator was not created by ${spec.what}.beginTrain`);
      }
      if (accumulator.round !== round) throw new RangeError(`accumulator belongs to round ${accumulator.round}, not round ${round}`);
      const store = accumulator.store;
      if (store === null) throw new FedkitError('round-closed', `round ${round} was already aggregated`);
      accumulator.store = null;
      try {
        if (accumulator.count < spec.minReplies) return null;
        const { sum, divisor, metrics } = spec.step({ store, clientIds: accumulator.clientIds });
        return {
          weights: applyDelta(accumulator.global, sum, divisor),
          metrics: { ...accumulator.metrics.means(), numClients: accumulator.count, numExamples: accumulator.totalWeight, ...metrics },
        };
      } finally {
        store.release();
      }
    },

    configureEvaluate: (_round, base) => ({ ...base }),

    aggregateEvaluate: (_round, replies) => weightedEvaluate(replies),
  };
}

/** `global + sum / divisor` in float64, rounded once to float32, into a fresh array. */
function applyDelta(global: Float32Array, sum: Float32Array, divisor: number): Float32Array {
  const out = new Float32Array(global.length);
  if (divisor === 1) for (let i = 0; i < out.length; i++) out[i] = global[i]! + sum[i]!;
  else for (let i = 0; i < out.length; i++) out[i] = global[i]! + sum[i]! / divisor;
  return out;
}
