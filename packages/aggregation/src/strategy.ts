/**
 * The strategy interface (after Flower's `Strategy`): four verbs that say what to ask of
 * clients and how to combine what they send back. The round loop itself (sampling, sending,
 * deadlines) lives in the server; a strategy is a plain object with no I/O, so the same
 * object runs in the server, the simulator and tests.
 *
 * Updates are deltas (`local - global`), flat float32 in the model's layout order. Training
 * replies are folded one by one as they arrive (`beginTrain` → `add`), so a streaming
 * strategy holds O(model size) memory whatever the number of clients.
 */
import type { ErrorCode, WeightsLayout } from '@fedkit/protocol';

/** Scalar values a strategy may put in a train or evaluate config. */
export type ConfigValue = number | string | boolean | null;

/** What a selected client is told to do in a training round. */
export interface TrainConfig {
  /** Local epochs over the client's data. */
  epochs: number;
  /** Mini-batch size; `null` means the whole local data set is one batch (B = ∞). */
  batchSize: number | null;
  learningRate: number;
  /** Strategy-specific extras (e.g. FedProx's `proximalMu`). */
  [extra: string]: ConfigValue;
}

export interface EvaluateConfig {
  batchSize: number;
  [extra: string]: ConfigValue;
}

/** One client's training reply, already validated (layout, size, finiteness) by the server. */
export interface TrainReply {
  clientId: string;
  /** Number of local examples the client trained on; FedAvg's weight n_k. */
  numExamples: number;
  /** local − global, flat, in layout order. Strategies must not mutate it. */
  update: Float32Array;
  /** Training metrics the client reported (loss, accuracy, trainMs, ...). */
  metrics: Readonly<Record<string, number>>;
}

/** A selected client that did not produce a usable reply, and why. */
export interface Failure {
  clientId: string;
  code: ErrorCode;
  message: string;
}

export interface EvaluateReply {
  clientId: string;
  numExamples: number;
  loss: number;
  accuracy: number;
}

export interface EvaluateSummary {
  /** Example-weighted mean loss. */
  loss: number;
  /** Example-weighted mean accuracy in [0, 1]. */
  accuracy: number;
  numExamples: number;
  numClients: number;
}

/** Folds training replies as they arrive. */
export interface UpdateAccumulator {
  /** Folds one reply in. Must not keep a reference to `reply.update` unless the strategy needs all updates (e.g. median). */
  add(reply: TrainReply): void;
  /** Number of replies folded so far. */
  readonly count: number;
  /** Sum of the weights folded so far (Σ n_k for FedAvg). */
  readonly totalWeight: number;
  /**
   * Optional, for accumulators whose state is a sum (FedAvg's and the DP wrappers'): what
   * has been folded so far, as plain numbers. A multi-process server folds each process's
   * replies into its own accumulator and ships this to the one process that aggregates.
   */
  exportPartial?(): AccumulatorPartial;
  /** Adds another accumulator's `exportPartial()` of the same kind and round (sums add). */
  mergePartial?(partial: AccumulatorPartial): void;
}

/** A folded partial sum, as `UpdateAccumulator.exportPartial` gives it. */
export interface AccumulatorPartial {
  /** Which accumulator made it (`'weighted-mean'`, `'dp'`); merging checks it. */
  kind: string;
  count: number;
  totalWeight: number;
  /** The running (weighted) sum of updates, in float64 for the trip. */
  sum: Float64Array;
  /** Extra counts the accumulator keeps (e.g. DP's unclipped count), summed on merge. */
  counters: Record<string, number>;
  /** Weighted metric sums (WeightedMetrics.exportSums). */
  metrics: Record<string, { weighted: number; weight: number }>;
}

export interface AggregateResult {
  /** The new global weights (a fresh array; the input global weights are never mutated). */
  weights: Float32Array;
  /** Aggregated training metrics, e.g. example-weighted mean loss. */
  metrics: Record<string, number>;
}

export interface Strategy {
  /** Short identifier, e.g. `"fedavg"`. */
  readonly name: string;

  /**
   * The train config for `round`, derived from the server's `base` config.
   * Returning `null` skips training in this round.
   */
  configureTrain(round: number, base: TrainConfig): TrainConfig | null;

  /** Starts folding the replies of `round` against the current `global` weights. */
  beginTrain(round: number, global: Float32Array, layout: WeightsLayout): UpdateAccumulator;

  /**
   * Combines the folded replies into new global weights. Returning `null` means the round
   * failed: the server keeps the model unchanged and retries with a fresh sample.
   */
  aggregateTrain(round: number, accumulator: UpdateAccumulator, failures: readonly Failure[]): AggregateResult | null;

  /** The evaluate config for `round`; `null` skips federated evaluation this round. */
  configureEvaluate(round: number, base: EvaluateConfig): EvaluateConfig | null;

  /** Combines evaluation replies; `null` when there is nothing to combine. */
  aggregateEvaluate(round: number, replies: readonly EvaluateReply[], failures: readonly Failure[]): EvaluateSummary | null;

  /**
   * Optional, for strategies that keep state between rounds (server optimizer moments, an
   * adaptive clip): a JSON-safe snapshot (typed arrays encoded as strings), which a server
   * persists with each completed round. Absent on stateless strategies.
   */
  exportState?(): unknown;

  /**
   * Restores `exportState()` output (already parsed from JSON). Throws
   * `FedkitError('config-invalid')` on a bad or foreign state, never half-restores.
   */
  importState?(state: unknown): void;
}
