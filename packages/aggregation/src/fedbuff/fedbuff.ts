/**
 * Buffered asynchronous aggregation (FedBuff; Nguyen et al., AISTATS 2022, arXiv:2106.06639):
 * clients train whenever they can, from whatever model version they hold, and the server
 * folds each update as it arrives, down-weighted by its staleness, publishing a new model
 * version every K updates. For browsers that come and go, waiting for a round's stragglers
 * is the wrong shape; this is the right one.
 *
 * It is a front-end over any synchronous `Strategy`: the K updates behind one version are
 * one round of the inner strategy (round number = the version being built), each update
 * scaled by s(τ) before it is folded. So FedAvg gives `w + Σ s(τ_k)·n_k·Δ_k / Σ n_k`,
 * FedAdam steps its optimizer once per published version, and a DP wrapper clips each
 * scaled update and noises each published version (account per version, with the
 * wrapper's expectedClients = K). The inner strategy streams, so the buffer holds
 * O(model size) memory, never K updates.
 *
 * An update is always applied to the current model, as in the paper; one older than
 * `maxStaleness` versions is refused (`update-stale`, with `details.staleness`), and one
 * claiming a version the server has not published yet is `invalid-message`.
 */
import { FedkitError, type WeightsLayout } from '@fedkit/protocol';
import { assertOptionsObject, integerOption } from '../options.js';
import type { Strategy, TrainConfig, TrainReply, UpdateAccumulator } from '../strategy.js';
import { DEFAULT_STALENESS, stalenessFunction, type StalenessWeighting } from './staleness.js';

/** A training reply plus the model version the client trained from. */
export interface AsyncUpdate extends TrainReply {
  baseVersion: number;
}

export interface FedBuffOptions {
  /** K ≥ 1: updates folded into each published version. No default: the paper tunes it. */
  bufferSize: number;
  /** Largest staleness τ = version − baseVersion accepted; `null` accepts any. @default null */
  maxStaleness?: number | null;
  /** s(τ). @default { kind: 'polynomial', exponent: 0.5 } (FedBuff's 1/√(1 + τ)) */
  staleness?: StalenessWeighting;
}

/** Where the aggregator starts: the model at `version` (0 for a fresh one, or the stored one). */
export interface FedBuffStart {
  weights: Float32Array;
  layout: WeightsLayout;
  /** @default 0 */
  version?: number;
}

export interface PublishedVersion {
  version: number;
  weights: Float32Array;
  /** The inner strategy's metrics plus `stalenessMean` and `stalenessMax` over the K updates. */
  metrics: Record<string, number>;
}

export type OfferOutcome =
  | { kind: 'buffered'; staleness: number; weight: number; buffered: number }
  | { kind: 'published'; staleness: number; weight: number; published: PublishedVersion }
  /** The inner strategy returned `null` for the full buffer: the updates are dropped and the version stays. */
  | { kind: 'dropped'; staleness: number; weight: number };

export interface BufferedAggregator {
  readonly inner: Strategy;
  /** The latest published version. */
  readonly version: number;
  /** Updates folded towards the next version. */
  readonly buffered: number;
  /** A copy of the latest published weights. */
  weights(): Float32Array;
  /** The train config for clients starting now, from the version they will train on. */
  configureTrain(base: TrainConfig): { version: number; config: TrainConfig } | null;
  /** Folds one update; publishes a version when it completes the buffer. */
  offer(update: AsyncUpdate): OfferOutcome;
}

const OPTION_NAMES = ['bufferSize', 'maxStaleness', 'staleness'] as const;

/**
 * Creates a FedBuff aggregator over `inner`.
 *
 * @example
 * const buffer = fedBuff(fedAvg(), { weights, layout }, { bufferSize: 10, maxStaleness: 20 });
 * const { version, config } = buffer.configureTrain(base)!; // send both to the client
 * const outcome = buffer.offer({ ...reply, baseVersion: version }); // when its update arrives
 * if (outcome.kind === 'published') broadcast(outcome.published);
 */
export function fedBuff(inner: Strategy, start: FedBuffStart, options: FedBuffOptions): BufferedAggregator {
  assertOptionsObject(options, OPTION_NAMES, 'fedBuff');
  if (options.bufferSize === undefined) throw new TypeError('bufferSize must be a number, got undefined');
  const bufferSize = integerOption(options.bufferSize, 'bufferSize', 1, 1);
  const maxStaleness = options.maxStaleness === null || options.maxStaleness === undefined ? null : integerOption(options.maxStaleness, 'maxStaleness', 0, 0);
  const weightOf = stalenessFunction(options.staleness ?? DEFAULT_STALENESS);
  if (!(start.weights instanceof Float32Array)) throw new TypeError('start.weights must be a Float32Array');
  let version = integerOption(start.version, 'start.version', 0, 0);
  let global: Float32Array = start.weights.slice();
  const layout = start.layout;
  let accumulator: UpdateAccumulator | null = null;
  let buffered = 0;
  let stalenessSum = 0;
  let stalenessMax = 0;

  const publish = (): PublishedVersion | null => {
    const round = version + 1;
    const folded = accumulator!;
    const stats = { stalenessMean: stalenessSum / buffered, stalenessMax };
    accumulator = null;
    buffered = stalenessSum = stalenessMax = 0;
    const result = inner.aggregateTrain(round, folded, []);
    if (result === null) return null;
    global = result.weights;
    version = round;
    return { version, weights: global.slice(), metrics: { ...result.metrics, ...stats } };
  };

  return {
    inner,
    get version() {
      return version;
    },
    get buffered() {
      return buffered;
    },
    weights: () => global.slice(),

    configureTrain(base) {
      const config = inner.configureTrain(version + 1, base);
      return config === null ? null : { version, config };
    },

    offer(update: AsyncUpdate): OfferOutcome {
      const base = update.baseVersion;
      if (typeof base !== 'number' || !Number.isSafeInteger(base) || base < 0 || base > version) {
        throw new FedkitError('invalid-message', `update from client "${update.clientId}" claims model version ${String(base)}; the server has published 0 to ${version}`);
      }
      const staleness = version - base;
      if (maxStaleness !== null && staleness > maxStaleness) {
        throw new FedkitError(
          'update-stale',
          `update from client "${update.clientId}" was trained on version ${base}, ${staleness} versions old; at most ${maxStaleness} are accepted`,
          { staleness, maxStaleness },
        );
      }
      if (!(update.update instanceof Float32Array)) throw new TypeError(`update from client "${update.clientId}" must be a Float32Array`);
      const weight = weightOf(staleness);
      const scaled = weight === 1 ? update.update : update.update.map((x) => x * weight);
      const { baseVersion: _base, ...reply } = update;
      accumulator ??= inner.beginTrain(version + 1, global, layout);
      // Throws (and folds nothing) on a malformed reply: the buffer is unchanged.
      accumulator.add({ ...reply, update: scaled });
      buffered++;
      stalenessSum += staleness;
      stalenessMax = Math.max(stalenessMax, staleness);
      if (buffered < bufferSize) return { kind: 'buffered', staleness, weight, buffered };
      const published = publish();
      return published === null ? { kind: 'dropped', staleness, weight } : { kind: 'published', staleness, weight, published };
    },
  };
}
