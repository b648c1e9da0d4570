/**
 * The strategies optimize, end to end, on a problem small enough to solve by hand: client
 * k's loss is ½‖w − c_k‖² and its local training is E steps of gradient descent, so its
 * update is Δ_k = (1 − (1 − η_l)^E)·(c_k − w), and the federated optimum is the
 * example-weighted mean w* = Σ n_k c_k / Σ n_k. Every strategy must reach w* from far away;
 * FedBuff with stale updates too. (A smoke test of the loop, not a benchmark.)
 */
import { seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { fedAvg } from '../src/fedavg.js';
import { fedAvgM } from '../src/fedavgm.js';
import { fedBuff } from '../src/fedbuff/fedbuff.js';
import { fedAdagrad, fedAdam, fedYogi } from '../src/fedopt.js';
import type { Strategy } from '../src/strategy.js';
import { flatLayout, reply, runRound } from './server-opt-harness.js';

const DIM = 6;
const random = seededRandomSource(21);
const CLIENTS = Array.from({ length: 5 }, (_, k) => ({
  id: `c${k}`,
  n: 10 + 20 * k,
  optimum: Array.from({ length: DIM }, () => (random.nextFloat() - 0.5) * 4),
}));
const TOTAL = CLIENTS.reduce((s, c) => s + c.n, 0);
const W_STAR = Array.from({ length: DIM }, (_, i) => CLIENTS.reduce((s, c) => s + c.n * c.optimum[i]!, 0) / TOTAL);
const SHRINK = 1 - 0.9 ** 5; // η_l = 0.1, E = 5

function localUpdate(client: (typeof CLIENTS)[number], w: Float32Array): number[] {
  return client.optimum.map((c, i) => SHRINK * (c - w[i]!));
}

function distance(w: Float32Array): number {
  return Math.sqrt(W_STAR.reduce((s, x, i) => s + (w[i]! - x) ** 2, 0));
}

describe('strategies reach the federated optimum of client quadratics', () => {
  it.each([
    ['fedAvg', () => fedAvg()],
    ['fedAvgM (β = 0.9, η = 0.1)', () => fedAvgM({ momentum: 0.9, serverLearningRate: 0.1 })],
    ['fedAdam (η = 0.05)', () => fedAdam({ serverLearningRate: 0.05, tau: 1e-3 })],
    ['fedYogi (defaults)', () => fedYogi({ serverLearningRate: 0.05 })],
    ['fedAdagrad (η = 0.5)', () => fedAdagrad({ serverLearningRate: 0.5, tau: 1e-3 })],
  ] as [string, () => Strategy][])('%s', (_name, make) => {
    const strategy = make();
    let w: Float32Array = new Float32Array(DIM).fill(5);
    const start = distance(w);
    for (let round = 1; round <= 300; round++) {
      w = runRound(strategy, round, w, CLIENTS.map((c) => reply(c.id, c.n, localUpdate(c, w))));
    }
    expect(start).toBeGreaterThan(5);
    expect(distance(w)).toBeLessThan(0.05);
  });

  it('fedBuff (K = 3, inner fedAvgM η = 0.2) with updates up to 4 versions stale', () => {
    // Each version averages 3 random clients, so the iterate wanders around w* by the
    // clients' spread times the step: the bound allows for that wander.
    const buffer = fedBuff(fedAvgM({ serverLearningRate: 0.2 }), { weights: new Float32Array(DIM).fill(5), layout: flatLayout(DIM) }, { bufferSize: 3, maxStaleness: 4 });
    // Clients train on the version current when they start and report a few offers later.
    const inFlight: { client: (typeof CLIENTS)[number]; version: number; update: number[] }[] = [];
    const pick = seededRandomSource(8);
    for (let step = 0; step < 3000; step++) {
      const client = CLIENTS[pick.nextUint32() % CLIENTS.length]!;
      inFlight.push({ client, version: buffer.version, update: localUpdate(client, buffer.weights()) });
      if (inFlight.length > 4) {
        const { client: done, version, update } = inFlight.splice(pick.nextUint32() % inFlight.length, 1)[0]!;
        if (buffer.version - version <= 4) buffer.offer({ ...reply(done.id, done.n, update), baseVersion: version });
      }
    }
    expect(buffer.version).toBeGreaterThan(600);
    expect(distance(buffer.weights())).toBeLessThan(0.5); // from ~12: the wander, not a bias
  });
});
