/**
 * FedAdam, FedYogi and FedAdagrad (Reddi et al., "Adaptive Federated Optimization", ICLR
 * 2021, arXiv:2003.00295): the example-weighted mean update Δ is a pseudo-gradient for an
 * adaptive optimizer on the server (update rules in server-optimizers/adaptive.ts). They
 * tolerate heterogeneous clients better than FedAvg and are less sensitive to the client
 * learning rate.
 *
 * Defaults are Flower's, per strategy (flwr.server.strategy.fedadam / fedyogi / fedadagrad):
 *
 * | | η | β1 | β2 | τ |
 * |---|---|---|---|---|
 * | FedAdam | 0.1 | 0.9 | 0.99 | 1e-9 |
 * | FedYogi | 0.01 | 0.9 | 0.99 | 1e-3 |
 * | FedAdagrad | 0.1 | 0 (Flower passes β1 = 0) | unused | 1e-9 |
 *
 * The paper's Algorithm 2 only asks β1, β2 ∈ [0, 1) and v_{−1} ≥ τ², and tunes η and τ per
 * task. v starts at 0 as in Flower; pass `initialSecondMoment: tau ** 2` for the paper's
 * bound. Flower's `eta_l` (client learning rate) is not an option here: clients take theirs
 * from the train config's `learningRate`.
 *
 * Works under secure aggregation and inside the DP wrappers: see server-opt-strategy.ts.
 */
import type { FedAvgOptions } from './fedavg.js';
import { FEDAVG_OPTION_NAMES, fedAvgOptions } from './fedavg.js';
import { assertOptionsObject } from './options.js';
import { booleanOption, DECAY_RANGE, NON_NEGATIVE_RANGE, POSITIVE_RANGE, realOption } from './range-options.js';
import { createServerOptStrategy, type ServerOptStrategy } from './server-opt-strategy.js';
import { adaptiveOptimizer, type AdaptiveRule } from './server-optimizers/adaptive.js';

export interface FedOptOptions extends FedAvgOptions {
  /** η, the server learning rate, > 0. @default 0.1 (FedYogi: 0.01) */
  serverLearningRate?: number;
  /** β1 ∈ [0, 1), first-moment decay. @default 0.9 (FedAdagrad: 0) */
  beta1?: number;
  /** τ > 0, the adaptivity: the step is η·m/(√v + τ). @default 1e-9 (FedYogi: 1e-3) */
  tau?: number;
  /** v_{−1} ≥ 0, the second moment before the first round. @default 0 */
  initialSecondMoment?: number;
}

export interface FedAdamOptions extends FedOptOptions {
  /** β2 ∈ [0, 1), second-moment decay. @default 0.99 */
  beta2?: number;
  /**
   * Scale η by √(1 − β2^t)/(1 − β1^t) at step t (Kingma & Ba's bias correction; not in
   * Reddi et al.'s Algorithm 2; Flower's current FedAdam applies it, one step ahead).
   * @default false
   */
  biasCorrection?: boolean;
}

export interface FedYogiOptions extends FedOptOptions {
  /** β2 ∈ [0, 1), second-moment decay. @default 0.99 */
  beta2?: number;
}

export type FedAdagradOptions = FedOptOptions;

const FEDOPT_OPTION_NAMES = [...FEDAVG_OPTION_NAMES, 'serverLearningRate', 'beta1', 'tau', 'initialSecondMoment'] as const;
export const FEDADAM_OPTION_NAMES = [...FEDOPT_OPTION_NAMES, 'beta2', 'biasCorrection'] as const;
export const FEDYOGI_OPTION_NAMES = [...FEDOPT_OPTION_NAMES, 'beta2'] as const;
export const FEDADAGRAD_OPTION_NAMES = FEDOPT_OPTION_NAMES;

interface Defaults {
  serverLearningRate: number;
  beta1: number;
  tau: number;
}

function build(rule: AdaptiveRule, what: string, names: readonly string[], defaults: Defaults, options: FedAdamOptions): ServerOptStrategy {
  assertOptionsObject(options, names, what);
  const { minReplies, kernel } = fedAvgOptions(options);
  const params = {
    serverLearningRate: realOption(options.serverLearningRate, 'serverLearningRate', defaults.serverLearningRate, POSITIVE_RANGE),
    beta1: realOption(options.beta1, 'beta1', defaults.beta1, DECAY_RANGE),
    beta2: realOption(options.beta2, 'beta2', 0.99, DECAY_RANGE),
    tau: realOption(options.tau, 'tau', defaults.tau, POSITIVE_RANGE),
    initialSecondMoment: realOption(options.initialSecondMoment, 'initialSecondMoment', 0, NON_NEGATIVE_RANGE),
    biasCorrection: booleanOption(options.biasCorrection, 'biasCorrection', false),
  };
  return createServerOptStrategy({ name: `fed${rule}`, what: `${what}()`, minReplies, kernel, optimizer: adaptiveOptimizer(rule, params) });
}

/**
 * Creates a FedAdam strategy.
 *
 * @example
 * const strategy = fedAdam({ serverLearningRate: 0.01, tau: 1e-3 });
 */
export function fedAdam(options: FedAdamOptions = {}): ServerOptStrategy {
  return build('adam', 'fedAdam', FEDADAM_OPTION_NAMES, { serverLearningRate: 0.1, beta1: 0.9, tau: 1e-9 }, options);
}

/** Creates a FedYogi strategy (Flower's defaults: η = 0.01, τ = 1e-3). */
export function fedYogi(options: FedYogiOptions = {}): ServerOptStrategy {
  return build('yogi', 'fedYogi', FEDYOGI_OPTION_NAMES, { serverLearningRate: 0.01, beta1: 0.9, tau: 1e-3 }, options);
}

/** Creates a FedAdagrad strategy (Flower's defaults: η = 0.1, τ = 1e-9, no momentum). */
export function fedAdagrad(options: FedAdagradOptions = {}): ServerOptStrategy {
  return build('adagrad', 'fedAdagrad', FEDADAGRAD_OPTION_NAMES, { serverLearningRate: 0.1, beta1: 0, tau: 1e-9 }, options);
}
