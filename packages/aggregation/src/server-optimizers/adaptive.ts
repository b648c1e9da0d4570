/**
 * The adaptive server optimizers of Reddi et al. 2021 ("Adaptive Federated Optimization",
 * ICLR, arXiv:2003.00295, Algorithm 2), over the round's mean update Δ_t:
 *
 *     m_t = β1·m_{t−1} + (1 − β1)·Δ_t
 *     v_t = v_{t−1} + Δ_t²                                   (FedAdagrad)
 *     v_t = v_{t−1} − (1 − β2)·Δ_t²·sign(v_{t−1} − Δ_t²)     (FedYogi)
 *     v_t = β2·v_{t−1} + (1 − β2)·Δ_t²                       (FedAdam)
 *     w_{t+1} = w_t + η·m_t / (√v_t + τ)
 *
 * element-wise, with m_{−1} = 0. The paper asks for v_{−1} ≥ τ²; Flower's FedAdam, FedYogi
 * and FedAdagrad start from v = 0 (`np.zeros_like`), as this does by default
 * (`initialSecondMoment`), so that their tests' values hold here too.
 *
 * Optional Adam bias correction (not in the paper's Algorithm 2): η_t = η·√(1 − β2^t) /
 * (1 − β1^t) with t the number of this step (1 first), as in Kingma & Ba. Flower's current
 * FedAdam applies it with t = server_round + 1, i.e. one step ahead of this.
 */
import type { OptimizerMoments, ServerOptimizer } from './server-optimizer.js';
import { assertMoments } from './server-optimizer.js';

export type AdaptiveRule = 'adam' | 'yogi' | 'adagrad';

export interface AdaptiveParams {
  /** η, > 0. */
  serverLearningRate: number;
  /** β1 ∈ [0, 1): first-moment decay; 0 is no momentum. */
  beta1: number;
  /** β2 ∈ [0, 1): second-moment decay (Adam, Yogi; unused by Adagrad). */
  beta2: number;
  /** τ > 0: the adaptivity; larger τ makes the step less adaptive. */
  tau: number;
  /** v_{−1} ≥ 0. */
  initialSecondMoment: number;
  /** Scale η by √(1 − β2^t) / (1 − β1^t) (Adam only). */
  biasCorrection: boolean;
}

/** The second-moment update for one coordinate: `v` is v_{t−1}, `d2` is Δ_t². */
function secondMoment(rule: AdaptiveRule, beta2: number): (v: number, d2: number) => number {
  switch (rule) {
    case 'adam':
      return (v, d2) => beta2 * v + (1 - beta2) * d2;
    case 'yogi':
      return (v, d2) => v - (1 - beta2) * d2 * Math.sign(v - d2);
    case 'adagrad':
      return (v, d2) => v + d2;
  }
}

/** The server optimizer for `rule` with validated `params`. */
export function adaptiveOptimizer(rule: AdaptiveRule, params: Readonly<AdaptiveParams>): ServerOptimizer {
  const { serverLearningRate: eta, beta1, beta2, tau, initialSecondMoment: v0, biasCorrection } = params;
  const nextV = secondMoment(rule, beta2);
  const optimizer: ServerOptimizer = {
    rule,
    momentNames: ['m', 'v'],
    step(global: Float32Array, delta: Float64Array, previous: OptimizerMoments | null) {
      if (previous !== null) assertMoments(optimizer, previous, global.length);
      const t = (previous?.steps ?? 0) + 1;
      const stepSize = biasCorrection ? (eta * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t) : eta;
      const oldM = previous?.moments.m;
      const oldV = previous?.moments.v;
      const m = new Float64Array(global.length);
      const v = new Float64Array(global.length);
      const weights = new Float32Array(global.length);
      for (let i = 0; i < weights.length; i++) {
        const d = delta[i]!;
        const mi = beta1 * (oldM === undefined ? 0 : oldM[i]!) + (1 - beta1) * d;
        const vi = nextV(oldV === undefined ? v0 : oldV[i]!, d * d);
        m[i] = mi;
        v[i] = vi;
        weights[i] = global[i]! + (stepSize * mi) / (Math.sqrt(vi) + tau);
      }
      return { weights, next: { steps: t, moments: { m, v } } };
    },
  };
  return optimizer;
}
