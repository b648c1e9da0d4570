/**
 * The Strategy conformance suite (STYLE §16b) run against every server-optimizer strategy,
 * FedProx, and a DP-wrapped FedAdam.
 *
 * The suite checks round 1 of a fresh strategy. Properties that differ by design:
 *
 * - "identical updates give that update": FedAvgM holds it in round 1 only (v1 = Δ; in
 *   round 2 it moves by (1 + β)·η·Δ, see fedavgm.test.ts). FedAdam/FedYogi/FedAdagrad do not
 *   hold it with their defaults: round 1 steps ≈ η·sign(Δ) per coordinate (fedopt.test.ts).
 *   So they run here τ-dominated: with τ ≫ |Δ| the step η·m/(√v + τ) is ≈ (η/τ)·m, and
 *   η = τ/(1 − β1) makes round 1's step Δ·(1 − O(|Δ|/τ)), within the suite's tolerance.
 *   Every other property (zero updates, order, example weights, zero-example replies, no
 *   mutation, nulls, counts, size checks, evaluation) is the same weighted mean's and is
 *   also tested with the defaults in fedopt.test.ts.
 * - DP-wrapped: as in privacy's dp-conformance.test.ts, replies weigh equally
 *   (`weighted: false`) and the mean divides by expectedClients = 3.
 *
 * The DP wrapper comes from @fedkit/privacy's source by a relative path, as privacy's own
 * tests import this suite: privacy depends on aggregation, never the other way, so there
 * is no cycle between the packages' builds.
 */
import { describe, expect, it } from 'vitest';
import { withCentralDp } from '../../privacy/src/dp/fixed-clipping.js';
import { fedAvgM } from '../src/fedavgm.js';
import { fedAdagrad, fedAdam, fedYogi } from '../src/fedopt.js';
import { fedProx } from '../src/fedprox.js';
import { describeStrategy } from './conformance.js';
import { flatLayout, reply } from './server-opt-harness.js';

const TAU = 1e5;

describeStrategy('fedAvgM()', () => fedAvgM());
describeStrategy('fedAvgM({ momentum: 0.9 }), round 1', () => fedAvgM({ momentum: 0.9 }));
describeStrategy('fedAvgM({ momentum: 0.5, serverLearningRate: 1, kernel: js })', () => fedAvgM({ momentum: 0.5, kernel: 'js' }));
describeStrategy('fedAdam, τ-dominated (τ = 1e5, η = τ/(1 − β1))', () => fedAdam({ tau: TAU, serverLearningRate: TAU / 0.1 }));
describeStrategy('fedAdam with bias correction, τ-dominated', () => fedAdam({ tau: TAU, serverLearningRate: TAU / 0.1, biasCorrection: true }));
describeStrategy('fedYogi, τ-dominated', () => fedYogi({ tau: TAU, serverLearningRate: TAU / 0.1 }));
describeStrategy('fedAdagrad, τ-dominated (β1 = 0, η = τ)', () => fedAdagrad({ tau: TAU, serverLearningRate: TAU }));
describeStrategy('fedProx({ proximalMu: 0.01 })', () => fedProx({ proximalMu: 0.01 }));
describeStrategy(
  'withCentralDp(fedAdam τ-dominated), z = 0',
  () => withCentralDp(fedAdam({ tau: TAU, serverLearningRate: TAU / 0.1 }), { clipNorm: 1e3, noiseMultiplier: 0, expectedClients: 3 }),
  { weighted: false },
);

describe('withCentralDp(fedAdam())', () => {
  it('steps the optimizer along the noised mean, keeping its moments across rounds', () => {
    // z = 0 and a clip no update reaches: the wrapper's mean is Σ Δ_k / m with m = 2, then
    // FedAdam (η = 0.1, τ = 0.01) steps along it: Δ = [0.5, −0.2] as in fedopt.test.ts.
    const inner = fedAdam({ serverLearningRate: 0.1, tau: 0.01 });
    const strategy = withCentralDp(inner, { clipNorm: 1e3, noiseMultiplier: 0, expectedClients: 2 });
    const accumulator = strategy.beginTrain(1, Float32Array.from([0, 1]), flatLayout(2));
    accumulator.add(reply('a', 1, [0.6, -0.3]));
    accumulator.add(reply('b', 9, [0.4, -0.1]));
    const weights = strategy.aggregateTrain(1, accumulator, [])?.weights;
    expect(weights?.[0]).toBeCloseTo(0.0833333333, 6);
    expect(weights?.[1]).toBeCloseTo(0.933333333, 6);
    expect(inner.steps).toBe(1);
  });
});
