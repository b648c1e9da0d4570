/**
 * Client-side middleware ("mods", after Flower's client mods; STYLE §5). A client's
 * training step is a handler from a train request to an outcome; a mod wraps a handler,
 * sees the request on the way in and the outcome on the way out, and may change either.
 * Privacy steps that must happen on the device (clipping, local or distributed noise) are
 * mods, so the training engine knows nothing of DP and the same mods run in Node and in
 * browsers.
 *
 * Mods receive plain objects and must return new ones: a mod never mutates the request,
 * the outcome or its update array.
 */
import type { ConfigValue } from '@fedkit/aggregation';

/** What the server asked for: the round and its train config (with any DP extras). */
export interface TrainRequest {
  readonly round: number;
  readonly config: Readonly<Record<string, ConfigValue>>;
}

/** What local training produced: the update (local − global) and what the client reports with it. */
export interface TrainOutcome {
  readonly update: Float32Array;
  readonly numExamples: number;
  readonly metrics: Readonly<Record<string, number>>;
  /**
   * Distributed DP with adaptive clipping: this client's clip indicator plus its share of the
   * count noise, b + N(0, σ_b²/m), which secure aggregation sums as the masked vector's last
   * coordinate (secure-count.ts). Set by `distributedDpMod` when the train config asks.
   */
  readonly noisedUnclipped?: number;
}

/** Per-client context handed to every mod. */
export interface ModContext {
  readonly clientId: string;
}

/** Runs (or continues) a training step. */
export type TrainHandler = (request: TrainRequest, ctx: ModContext) => Promise<TrainOutcome>;

/** Wraps the rest of the chain: call `next` to train, post-process what it returns. */
export type TrainMod = (request: TrainRequest, ctx: ModContext, next: TrainHandler) => Promise<TrainOutcome>;

/**
 * Folds `mods` around `handler` with `reduceRight`: `mods[0]` is outermost, so it sees the
 * request first and the outcome last. Outcomes therefore pass the mods from the last to the
 * first: a mod that must only ever see the private update (secure-aggregation quantization,
 * upload) goes before the DP mod in the array, one that needs the raw update goes after it.
 *
 * @example
 * const train = applyMods(trainLocally, [distributedDpMod({ random: cryptoRandomSource() })]);
 * const outcome = await train({ round, config }, { clientId });
 */
export function applyMods(
  handler: (request: TrainRequest, ctx: ModContext) => TrainOutcome | Promise<TrainOutcome>,
  mods: readonly TrainMod[],
): TrainHandler {
  if (typeof handler !== 'function') throw new TypeError('handler must be a function');
  if (!Array.isArray(mods)) throw new TypeError('mods must be an array of mods');
  mods.forEach((mod, i) => {
    if (typeof mod !== 'function') throw new TypeError(`mods[${i}] must be a function (request, ctx, next) => outcome`);
  });
  const base: TrainHandler = async (request, ctx) => handler(request, ctx);
  return mods.reduceRight<TrainHandler>((next, mod) => (request, ctx) => mod(request, ctx, next), base);
}
