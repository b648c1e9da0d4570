/**
 * Norm bounding (Sun, Kairouz, Suresh & McMahan, "Can You Really Backdoor Federated
 * Learning?", 2019): before a strategy sees an update, scale it to L2 norm at most M,
 * `Δ · min(1, M / ‖Δ‖)`, so that no single client can move the aggregate by more than its
 * share of M, however large the update it sends. A wrapper (STYLE §5): it takes any
 * strategy and returns one, and never mutates the update it is given (a clipped update is a
 * fresh copy; an update within the bound is passed on as is).
 *
 * Unlike DP clipping (@fedkit/privacy) it adds no noise and keeps the inner strategy's
 * weighting; M is a robustness knob, not a sensitivity. A server optimizer's state (FedAdam's
 * moments) stays reachable through the wrapper (`rule`, `steps`, `toJSON`, `fromJSON`), so a
 * server that persists it still can.
 */
import { FedkitError } from '@fedkit/protocol';
import { assertOptionsObject } from '../options.js';
import { POSITIVE_RANGE, requiredReal } from '../range-options.js';
import type { ServerOptStrategy } from '../server-opt-strategy.js';
import type { AggregateResult, Strategy, TrainReply, UpdateAccumulator } from '../strategy.js';

export interface NormBoundOptions {
  /** M > 0: the largest L2 norm an update keeps. */
  maxNorm: number;
}

export const NORMBOUND_OPTION_NAMES = ['maxNorm'] as const;

/**
 * ‖values‖₂, accumulated in float64 over four independent partial sums (so V8 can overlap
 * them: ~2× the single chain); non-finite input gives a non-finite norm.
 */
export function l2NormOf(values: Float32Array): number {
  const n = values.length;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a = values[i]!;
    const b = values[i + 1]!;
    const c = values[i + 2]!;
    const d = values[i + 3]!;
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (; i < n; i++) s0 += values[i]! * values[i]!;
  return Math.sqrt(s0 + s1 + (s2 + s3));
}

class NormBoundAccumulator implements UpdateAccumulator {
  /** Replies whose update was scaled down this round. */
  clipped = 0;

  constructor(
    readonly owner: object,
    readonly inner: UpdateAccumulator,
    readonly maxNorm: number,
  ) {}

  get count(): number {
    return this.inner.count;
  }

  get totalWeight(): number {
    return this.inner.totalWeight;
  }

  add(reply: TrainReply): void {
    if (!(reply.update instanceof Float32Array)) throw new TypeError(`update from client "${reply.clientId}" must be a Float32Array`);
    const norm = l2NormOf(reply.update);
    if (!Number.isFinite(norm)) throw new FedkitError('update-not-finite', `update from client "${reply.clientId}" has a non-finite L2 norm`);
    if (norm <= this.maxNorm) {
      this.inner.add(reply);
      return;
    }
    const scale = this.maxNorm / norm;
    this.inner.add({ ...reply, update: reply.update.map((v) => v * scale) });
    this.clipped++;
  }
}

/**
 * Wraps `strategy` so that every update is clipped to L2 norm `maxNorm` first. Round
 * metrics gain `normBoundClipped`, the number of updates scaled down.
 *
 * @example
 * const strategy = withNormBound(fedAvg(), { maxNorm: 5 });
 * const robust = withNormBound(fedMedian(), { maxNorm: 5 });
 */
export function withNormBound(strategy: Strategy, options: NormBoundOptions): Strategy {
  if (typeof strategy !== 'object' || strategy === null || typeof strategy.aggregateTrain !== 'function') {
    throw new TypeError('withNormBound needs a strategy to wrap');
  }
  assertOptionsObject(options, NORMBOUND_OPTION_NAMES, 'withNormBound');
  const maxNorm = requiredReal(options.maxNorm, 'maxNorm', POSITIVE_RANGE);
  const owner = {};
  return forwardOptimizerState(strategy, {
    name: `normbound(${strategy.name})`,
    configureTrain: (round, base) => strategy.configureTrain(round, base),
    beginTrain: (round, global, layout) => new NormBoundAccumulator(owner, strategy.beginTrain(round, global, layout), maxNorm),
    aggregateTrain(round, accumulator, failures): AggregateResult | null {
      if (!(accumulator instanceof NormBoundAccumulator) || accumulator.owner !== owner) {
        throw new TypeError('accumulator was not created by withNormBound().beginTrain');
      }
      const result = strategy.aggregateTrain(round, accumulator.inner, failures);
      return result === null ? null : { ...result, metrics: { ...result.metrics, normBoundClipped: accumulator.clipped } };
    },
    configureEvaluate: (round, base) => strategy.configureEvaluate(round, base),
    aggregateEvaluate: (round, replies, failures) => strategy.aggregateEvaluate(round, replies, failures),
    // The bound keeps no state; the wrapped strategy's (e.g. FedAdam's moments) passes through.
    ...(strategy.exportState === undefined || strategy.importState === undefined
      ? {}
      : { exportState: () => strategy.exportState!(), importState: (state: unknown) => strategy.importState!(state) }),
  });
}

/** Gives `wrapper` the inner server optimizer's state verbs, when `inner` has them. */
function forwardOptimizerState(inner: Strategy, wrapper: Strategy): Strategy {
  const s = inner as Partial<ServerOptStrategy>;
  if (typeof s.toJSON !== 'function' || typeof s.fromJSON !== 'function' || typeof s.rule !== 'string') return wrapper;
  return Object.defineProperties(wrapper, {
    rule: { get: () => s.rule, enumerable: true },
    steps: { get: () => s.steps, enumerable: true },
    toJSON: { value: () => s.toJSON!() },
    fromJSON: { value: (state: unknown) => s.fromJSON!(state) },
  });
}
