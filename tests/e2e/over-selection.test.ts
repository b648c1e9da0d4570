/**
 * Over-selection (Bonawitz et al. 2019: 130 %): the server samples ⌈m·overSelection⌉
 * clients, closes the round on the first m good replies, and refuses a later reply with
 * `late-reply` without folding it.
 */
import { describe, expect, it } from 'vitest';
import { constantTrainer, tinyModel, federationSession } from '../helpers/federation.js';
import { connectRaw } from '../helpers/raw-client.js';

const session = federationSession();

describe('over-selection', () => {
  it('samples 3 for m = 2, closes on the first 2 replies and refuses the late one', async () => {
    const started = await session.server({ rounds: 1, minClients: 3, sampling: { fraction: 0.5, minFit: 1, overSelection: 1.5 } });
    const server = started.server;
    const rejected: { clientId: string | null; code: string }[] = [];
    server.on('rejected', (r) => rejected.push(r));
    const summary = server.run();
    const slow = await connectRaw(started.url, 'slow');
    expect((await slow.hello()).ok).toBe(true);
    session.client(started.url, 'a', constantTrainer(1));
    session.client(started.url, 'b', constantTrainer(3));
    const train = await slow.nextTrain();
    const result = await summary;
    expect(result.rounds[0]).toMatchObject({ status: 'completed', selected: 3, replied: 2, failed: [] });
    // Only the two fast updates (1 and 3, equal weights) moved the model.
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 2, 5));

    const before = server.currentWeights().slice();
    const { result: ack } = await slow.sendUpdate(train.round, new Float32Array(8).fill(100));
    expect(ack).toMatchObject({ ok: false, error: { code: 'late-reply' } });
    expect((ack as { error: { message: string } }).error.message).toMatch(/closed on its first 2 replies/);
    expect(rejected).toContainEqual(expect.objectContaining({ clientId: 'slow', code: 'late-reply' }));
    expect(server.currentWeights()).toEqual(before);
    slow.close();
  });

  it('with overSelection 1 waits for every sampled client, as before', async () => {
    const started = await session.server({ rounds: 1, minClients: 3, sampling: { fraction: 0.5, minFit: 1 } });
    const server = started.server;
    const summary = server.run();
    for (const id of ['a', 'b', 'c']) session.client(started.url, id, constantTrainer(1));
    expect((await summary).rounds[0]).toMatchObject({ selected: 2, replied: 2 });
  });
});
