/**
 * The one strategy shape behind FedAvgM, FedAdam, FedYogi and FedAdagrad: the same
 * streaming example-weighted mean as FedAvg (weighted-mean.ts), then one step of a server
 * optimizer along it, with the optimizer's moments kept between rounds and persistable
 * with `toJSON()` / `fromJSON()`.
 *
 * Composition: the optimizer only ever sees the aggregated mean, so it works unchanged
 * under secure aggregation (the server learns Σ n_k Δ_k and Σ n_k, which is all the mean
 * needs) and under the DP wrappers of @fedkit/privacy (they wrap this strategy and hand it
 * the noised mean as a single reply; the optimizer step is post-processing and keeps the
 * guarantee). The moments are derived from released means only, so persisting them
 * releases nothing new.
 */
import { FedkitError, type WeightsLayout } from '@fedkit/protocol';
import type { KernelChoice } from './kernels/weighted-sum.js';
import type { OptimizerMoments, ServerOptimizer } from './server-optimizers/server-optimizer.js';
import { decodeFloat64, encodeFloat64 } from './server-optimizers/state-codec.js';
import type { AggregateResult, Failure, Strategy, UpdateAccumulator } from './strategy.js';
import { beginWeightedMean, closeWeightedMean } from './weighted-mean.js';
import { weightedEvaluate } from './weighted-metrics.js';

/** What `toJSON` returns and `fromJSON` accepts. */
export interface ServerOptState {
  kind: 'server-opt-strategy';
  version: 1;
  /** The strategy's name, e.g. `"fedadam"`; restoring checks it. */
  name: string;
  /** The optimizer's rule, e.g. `"adam"`; restoring checks it. */
  rule: string;
  /** Optimizer steps taken (rounds aggregated); 0 before the first. */
  steps: number;
  /** The last round aggregated, `null` before the first. */
  lastRound: number | null;
  /** Floats per moment vector (the model's size); `null` before the first step. */
  size: number | null;
  /** Each moment vector as base64 of little-endian float64 (state-codec.ts). */
  moments: Record<string, string>;
}

/** A strategy with a server optimizer, and what a server needs to persist it. */
export interface ServerOptStrategy extends Strategy {
  /** The optimizer's rule: `'momentum'`, `'adam'`, `'yogi'` or `'adagrad'`. */
  readonly rule: string;
  /** Optimizer steps taken so far. */
  readonly steps: number;
  toJSON(): ServerOptState;
  /** Restores `toJSON()` output; throws `FedkitError('config-invalid')` on a bad or foreign state. */
  fromJSON(state: unknown): void;
}

/** How a factory configures the shared strategy (options already validated). */
export interface ServerOptSpec {
  name: string;
  /** How errors name the factory, e.g. `"fedAdam()"`. */
  what: string;
  minReplies: number;
  kernel: KernelChoice;
  optimizer: ServerOptimizer;
}

/** Builds the strategy described by `spec`. */
export function createServerOptStrategy(spec: Readonly<ServerOptSpec>): ServerOptStrategy {
  const { name, what, minReplies, kernel, optimizer } = spec;
  let moments: OptimizerMoments | null = null;
  let lastRound: number | null = null;
  const owner = {};

  const strategy: ServerOptStrategy = {
    name,
    rule: optimizer.rule,
    get steps() {
      return moments?.steps ?? 0;
    },

    configureTrain: (_round, base) => ({ ...base }),

    beginTrain(round: number, global: Float32Array, layout: WeightsLayout): UpdateAccumulator {
      const accumulator = beginWeightedMean(owner, round, global, layout, kernel);
      const size = firstMomentLength(moments);
      if (size !== null && size !== global.length) {
        accumulator.sum?.release();
        throw new FedkitError('weights-layout-invalid', `${name} holds optimizer moments for ${size} floats, the model has ${global.length}`);
      }
      return accumulator;
    },

    aggregateTrain(round: number, accumulator: UpdateAccumulator, _failures: readonly Failure[]): AggregateResult | null {
      return closeWeightedMean(owner, accumulator, round, minReplies, what, ({ global, sum, totalWeight, metrics }) => {
        const delta = new Float64Array(sum.length);
        for (let i = 0; i < delta.length; i++) delta[i] = sum[i]! / totalWeight;
        const { weights, next } = optimizer.step(global, delta, moments);
        moments = next;
        lastRound = round;
        return { weights, metrics };
      });
    },

    configureEvaluate: (_round, base) => ({ ...base }),

    aggregateEvaluate: (_round, replies) => weightedEvaluate(replies),

    toJSON(): ServerOptState {
      const encoded: Record<string, string> = {};
      if (moments !== null) for (const key of optimizer.momentNames) encoded[key] = encodeFloat64(moments.moments[key]!);
      const size = firstMomentLength(moments);
      return { kind: 'server-opt-strategy', version: 1, name, rule: optimizer.rule, steps: moments?.steps ?? 0, lastRound, size, moments: encoded };
    },

    fromJSON(state: unknown): void {
      const restored = parseState(state, name, optimizer);
      moments = restored.moments;
      lastRound = restored.lastRound;
    },

    exportState: () => strategy.toJSON(),

    importState: (state: unknown) => strategy.fromJSON(state),
  };
  return strategy;
}

function firstMomentLength(moments: OptimizerMoments | null): number | null {
  if (moments === null) return null;
  const first = Object.values(moments.moments)[0];
  return first === undefined ? null : first.length;
}

function parseState(state: unknown, name: string, optimizer: ServerOptimizer): { moments: OptimizerMoments | null; lastRound: number | null } {
  try {
    if (typeof state !== 'object' || state === null) throw new TypeError('state must be an object');
    const s = state as Partial<Record<keyof ServerOptState, unknown>>;
    if (s.kind !== 'server-opt-strategy') throw new TypeError(`state.kind must be 'server-opt-strategy', got ${String(s.kind)}`);
    if (s.version !== 1) throw new RangeError(`state.version must be 1, got ${String(s.version)}`);
    if (s.name !== name) throw new RangeError(`state.name is ${JSON.stringify(s.name)}, this strategy is "${name}"`);
    if (s.rule !== optimizer.rule) throw new RangeError(`state.rule is ${JSON.stringify(s.rule)}, this strategy's optimizer is "${optimizer.rule}"`);
    const steps = s.steps;
    if (typeof steps !== 'number' || !Number.isSafeInteger(steps) || steps < 0) throw new RangeError(`state.steps must be an integer ≥ 0, got ${String(steps)}`);
    const last = s.lastRound;
    if (last !== null && !(typeof last === 'number' && Number.isSafeInteger(last) && last >= 0)) {
      throw new RangeError(`state.lastRound must be null or an integer ≥ 0, got ${String(last)}`);
    }
    if (steps === 0) return { moments: null, lastRound: last ?? null };
    const size = s.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new RangeError(`state.size must be an integer ≥ 0 after a step, got ${String(size)}`);
    if (typeof s.moments !== 'object' || s.moments === null) throw new TypeError('state.moments must be an object');
    const encoded = s.moments as Record<string, unknown>;
    const decoded: Record<string, Float64Array> = {};
    for (const key of optimizer.momentNames) {
      const values = decodeFloat64(encoded[key], size, `state.moments.${key}`);
      if (!values.every(Number.isFinite)) throw new RangeError(`state.moments.${key} holds a non-finite value`);
      decoded[key] = values;
    }
    return { moments: { steps, moments: decoded }, lastRound: last ?? null };
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new FedkitError('config-invalid', `invalid ${name} state: ${error.message}`);
    }
    throw error;
  }
}
