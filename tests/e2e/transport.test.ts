/**
 * Transport-level behaviour over real sockets: a CNN-sized model (6.65 MB, far above
 * socket.io's 1 MB message limit) travels both ways in chunks, and a client whose
 * connection drops reconnects by itself, rejoins and trains in the next round.
 */
import { describe, expect, it } from 'vitest';
import type { ModelDefinition } from '@fedkit/server';
import { constantTrainer, federationSession } from '../helpers/federation.js';

const session = federationSession();

/** The tensors of McMahan et al.'s CNN ('same' padding): 1,663,370 parameters. */
const cnnModel: ModelDefinition = (() => {
  const layout = [
    { name: 'conv1/kernel', shape: [5, 5, 1, 32] },
    { name: 'conv1/bias', shape: [32] },
    { name: 'conv2/kernel', shape: [5, 5, 32, 64] },
    { name: 'conv2/bias', shape: [64] },
    { name: 'dense1/kernel', shape: [3136, 512] },
    { name: 'dense1/bias', shape: [512] },
    { name: 'dense2/kernel', shape: [512, 10] },
    { name: 'dense2/bias', shape: [10] },
  ];
  const weights = new Float32Array(1_663_370);
  for (let i = 0; i < weights.length; i++) weights[i] = ((i % 1000) - 500) / 1000;
  return { topology: null, layout, weights };
})();

describe('transport', () => {
  it('round-trips the 1,663,370-parameter CNN in chunks, both ways', async () => {
    const started = await session.server({ model: cnnModel, rounds: 1 });
    const server = started.server;
    const summary = server.run();
    const seen: Float32Array[] = [];
    const recording = (value: number) => {
      const t = constantTrainer(value, 10);
      const train = t.train.bind(t);
      t.train = async (global, config, context) => {
        seen.push(global.slice());
        return train(global, config, context);
      };
      return t;
    };
    session.client(started.url, 'a', recording(0.5));
    session.client(started.url, 'b', recording(-0.25));
    session.client(started.url, 'c', recording(1));
    const result = await summary;
    expect(result.roundsCompleted).toBe(1);
    // Each client received exactly the global weights.
    for (const global of seen) expect(Buffer.compare(Buffer.from(global.buffer), Buffer.from(cnnModel.weights.buffer))).toBe(0);
    const round = result.rounds[0]!;
    expect(round.bytesOut).toBe(3 * cnnModel.weights.length * 4);
    expect(round.bytesIn).toBe(3 * cnnModel.weights.length * 4);
    // Mean update (0.5 − 0.25 + 1) / 3.
    const weights = server.currentWeights();
    for (const i of [0, 1, 800_000, 1_663_369]) expect(weights[i]).toBeCloseTo(cnnModel.weights[i]! + 1.25 / 3, 5);
  });

  it('a client whose connection drops reconnects with backoff, rejoins and trains in the next round', async () => {
    const started = await session.server({ rounds: 2, minClients: 2, sampling: { fraction: 1, minFit: 2 } });
    const server = started.server;
    const joins: string[] = [];
    server.on('client-joined', (c) => joins.push(c.clientId));
    const summary = server.run();
    const flaky = session.client(started.url, 'flaky', constantTrainer(1), true);
    session.client(started.url, 'steady', constantTrainer(1));
    server.once('round', () => {
      // Drop flaky's transport under it, as a lost network would.
      const socket = [...server.io.sockets.sockets.values()].find((s) => s.id === flaky.session?.sessionId);
      socket!.conn.close();
    });
    const result = await summary;
    expect(result.rounds.map((r) => [r.round, r.status, r.replied])).toEqual([
      [1, 'completed', 2],
      [2, 'completed', 2],
    ]);
    expect(joins.filter((id) => id === 'flaky')).toHaveLength(2);
  });
});
