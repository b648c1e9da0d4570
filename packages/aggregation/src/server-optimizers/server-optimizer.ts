/**
 * A server optimizer (Reddi et al. 2021, "Adaptive Federated Optimization"): the server
 * treats the round's weighted mean update Δ as a pseudo-gradient and takes one step of an
 * optimizer along it, instead of FedAvg's `w ← w + Δ`. Each optimizer here is a pure step
 * function over flat arrays: it takes the global weights, Δ and its moments from the last
 * round, and returns new weights and new moments, mutating nothing. The strategy that owns
 * the moments (server-opt-strategy.ts) persists them between rounds and across restarts.
 *
 * Moments and Δ are float64: Adagrad's sum of squares grows without bound and Yogi's sign
 * test compares v with Δ², where float32 would round away the small terms. The weights are
 * rounded to float32 once, at the end of each step.
 */

/** The optimizer's state after `steps` steps: named moment vectors, one float per weight. */
export interface OptimizerMoments {
  /** Steps taken so far (rounds aggregated). */
  steps: number;
  /** e.g. `{ m, v }` for FedAdam, `{ velocity }` for FedAvgM; every vector has the model's length. */
  moments: Readonly<Record<string, Float64Array>>;
}

export interface ServerOptimizer {
  /** The update rule, e.g. `'adam'`. */
  readonly rule: string;
  /** Names of the moment vectors in `OptimizerMoments.moments`, for restoring state. */
  readonly momentNames: readonly string[];
  /**
   * One step from `global` along the mean update `delta` (same length). `previous` is
   * `null` before the first step. Returns fresh weights and fresh moments; the inputs are
   * left untouched.
   */
  step(global: Float32Array, delta: Float64Array, previous: OptimizerMoments | null): { weights: Float32Array; next: OptimizerMoments };
}

/** Throws `RangeError` unless `previous` holds every moment, each of `length` floats. */
export function assertMoments(optimizer: ServerOptimizer, previous: OptimizerMoments, length: number): void {
  for (const name of optimizer.momentNames) {
    const moment = previous.moments[name];
    if (!(moment instanceof Float64Array) || moment.length !== length) {
      throw new RangeError(`${optimizer.rule} moment "${name}" must be a Float64Array of ${length} floats, got ${moment?.length ?? 'none'}`);
    }
  }
}
