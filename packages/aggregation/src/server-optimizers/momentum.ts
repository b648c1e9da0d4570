/**
 * Server momentum (FedAvgM; Hsu, Qi and Brown 2019, "Measuring the Effects of Non-Identical
 * Data Distribution for Federated Visual Classification"): heavy-ball momentum on the
 * pseudo-gradient, `v ← β·v + Δ; w ← w + η·v`, with `v = 0` before the first round, so
 * the first step is `w + η·Δ`.
 *
 * Flower's FedAvgM writes the same rule with the opposite sign (pseudo-gradient `w − avg`,
 * `w ← w − η·v`) and seeds `v = Δ` in round 1, which is the same thing.
 */
import type { OptimizerMoments, ServerOptimizer } from './server-optimizer.js';
import { assertMoments } from './server-optimizer.js';

export interface MomentumParams {
  /** η, > 0. */
  serverLearningRate: number;
  /** β ∈ [0, 1); 0 is FedAvg with a server learning rate. */
  momentum: number;
}

/** The FedAvgM step with validated `params`. */
export function momentumOptimizer(params: Readonly<MomentumParams>): ServerOptimizer {
  const { serverLearningRate: eta, momentum: beta } = params;
  const optimizer: ServerOptimizer = {
    rule: 'momentum',
    momentNames: ['velocity'],
    step(global: Float32Array, delta: Float64Array, previous: OptimizerMoments | null) {
      if (previous !== null) assertMoments(optimizer, previous, global.length);
      const old = previous?.moments.velocity;
      const velocity = new Float64Array(global.length);
      const weights = new Float32Array(global.length);
      for (let i = 0; i < weights.length; i++) {
        const v = old === undefined ? delta[i]! : beta * old[i]! + delta[i]!;
        velocity[i] = v;
        weights[i] = global[i]! + eta * v;
      }
      return { weights, next: { steps: (previous?.steps ?? 0) + 1, moments: { velocity } } };
    },
  };
  return optimizer;
}
