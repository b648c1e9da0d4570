/**
 * The server's foldOrder option: with 'client-id' the aggregate does not depend on the order
 * replies arrive in (float32 sums do), which reproducible simulations rely on.
 */
import { describe, expect, it } from 'vitest';
import type { LocalTrainer } from '@fedkit/client-core';
import { startServer, tinyModel, federationSession } from '../helpers/federation.js';

const session = federationSession();

/** Replies `value` everywhere after `delayMs`, so the arrival order is c, a, b. */
function delayedTrainer(value: number, delayMs: number): LocalTrainer {
  return {
    numExamples: 1,
    numEvalExamples: 0,
    async prepare() {},
    async train(global) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { update: new Float32Array(global.length).fill(value), numExamples: 1, metrics: {} };
    },
    async evaluate() {
      return { loss: 0, accuracy: 0, numExamples: 0 };
    },
  };
}

async function oneRound(foldOrder: 'arrival' | 'client-id'): Promise<Float32Array> {
  const started = await session.server({ rounds: 1, foldOrder });
  const server = started.server;
  const summary = server.run();
  // In float32, (1e8 + 1) − 1e8 = 0 but (−1e8 + 1e8) + 1 = 1: the sum depends on the order.
  session.client(started.url, 'a', delayedTrainer(1e8, 150));
  session.client(started.url, 'b', delayedTrainer(1, 300));
  session.client(started.url, 'c', delayedTrainer(-1e8, 0));
  expect((await summary).roundsCompleted).toBe(1);
  const weights = server.currentWeights().slice();
  await session.end();
  return weights;
}

describe('foldOrder', () => {
  it("'client-id' folds a, b, c whatever the arrival order; 'arrival' folds c, a, b", async () => {
    const sorted = await oneRound('client-id');
    const arrival = await oneRound('arrival');
    expect(Array.from(sorted)).toEqual(Array.from(tinyModel.weights));
    expect(arrival[0]).toBeCloseTo(tinyModel.weights[0]! + 1 / 3, 6);
  });

  it('rejects an unknown fold order naming the field', async () => {
    await expect(startServer({ foldOrder: 'random' as never })).rejects.toThrow(/foldOrder/);
  });
});
