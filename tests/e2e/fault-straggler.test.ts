/**
 * A straggler past the deadline (issue 6, part 5): of three sampled clients one does not
 * answer round 1 in time. The round closes at its deadline with the two others (the
 * straggler failed with `deadline-exceeded`); the straggler's reply to round 1, arriving
 * while round 2 is open, is refused with `round-closed` and never folded; the straggler
 * itself is not dropped and its timely answer to round 2 counts.
 */
import { describe, expect, it } from 'vitest';
import type { RoundMetrics } from '@fedkit/server';
import { constantTrainer, federationSession, nextEvent, tinyModel } from '../helpers/federation.js';
import { connectRaw } from '../helpers/raw-client.js';

const session = federationSession();
const DEADLINE_MS = 800;

describe('a straggler past the round deadline', () => {
  it('closes the round at the deadline without it, refuses its late reply with round-closed, and lets it answer the next round', async () => {
    const { server, url } = await session.server({ rounds: 2, minClients: 3, sampling: { fraction: 1, minFit: 2 }, roundDeadlineMs: DEADLINE_MS });
    const rejected: { clientId: string | null; code: string }[] = [];
    server.on('rejected', (r) => rejected.push(r));
    const firstRound = nextEvent<RoundMetrics>((l) => server.on('round', l));
    const summary = server.run();
    const straggler = session.own(await connectRaw(url, 'straggler'));
    expect((await straggler.hello()).ok).toBe(true);
    session.client(url, 'a', constantTrainer(1));
    session.client(url, 'b', constantTrainer(3));

    const first = await firstRound;
    expect(first).toMatchObject({ round: 1, status: 'completed', selected: 3, replied: 2 });
    expect(first.failed).toEqual([expect.objectContaining({ clientId: 'straggler', code: 'deadline-exceeded' })]);
    // It closed at the deadline (the phase's timer starts just before the weights are sent).
    expect(first.trainPhaseMs).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    const afterRound1 = server.currentWeights().slice();
    Array.from(afterRound1).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 2, 5));

    // The round-1 request reaches the straggler first; round 2 is already out when it answers.
    const late = await straggler.nextTrain();
    expect(late.round).toBe(1);
    const { chunkAcks, result } = await straggler.sendUpdate(1, new Float32Array(tinyModel.weights.length).fill(100));
    expect(chunkAcks.every((a) => a.ok)).toBe(true);
    expect(result).toMatchObject({ ok: false, error: { code: 'round-closed' } });
    expect((result as { error: { message: string } }).error.message).toMatch(/round 1 is closed; round 2 is open/);
    expect(rejected).toContainEqual(expect.objectContaining({ clientId: 'straggler', code: 'round-closed' }));
    expect(server.currentWeights()).toEqual(afterRound1);

    // Still joined and selected: its answer to round 2 is accepted.
    const next = await straggler.nextTrain();
    expect(next.round).toBe(2);
    expect((await straggler.sendUpdate(2, new Float32Array(tinyModel.weights.length).fill(2))).result).toMatchObject({ ok: true });
    const result2 = await summary;
    expect(result2.rounds[1]).toMatchObject({ round: 2, status: 'completed', replied: 3, failed: [] });
    // Round 2's mean of 1, 3 and 2 moved the model by 2 more; the late 100s never arrived in it.
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 4, 5));
  });
});
