/**
 * A client killed mid-upload (issue 6, part 5): a client in its own process
 * (tests/helpers/stalled-uploader.ts) has sent three of the four chunks of its update, each
 * acknowledged, when it is SIGKILLed. The round completes with the other two clients
 * (the victim failed with `client-disconnected`), the partial upload is never folded (its
 * update is 100 everywhere; the model moves by exactly the others' mean), and the server
 * stays healthy: a new client joins and the next round completes with it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { RoundMetrics } from '@fedkit/server';
import { constantTrainer, federationSession, nextEvent, tinyModel } from '../helpers/federation.js';
import type { InFlightMessage, StalledUploaderConfig } from '../helpers/stalled-uploader.js';

const session = federationSession();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function startStalledUploader(config: StalledUploaderConfig): { child: ChildProcess; inFlight: Promise<InFlightMessage> } {
  const script = fileURLToPath(new URL('../helpers/stalled-uploader.ts', import.meta.url));
  const child = fork(script, [JSON.stringify(config)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const inFlight = new Promise<InFlightMessage>((resolve, reject) => {
    child.once('message', (message) => resolve(message as InFlightMessage));
    child.once('exit', (code, signal) => reject(new Error(`the uploader exited (${code ?? signal}) before its upload was in flight`)));
  });
  return { child, inFlight };
}

describe('a client killed mid-upload', () => {
  it('fails that client only: the round completes with the others, nothing partial is folded, the server carries on', async () => {
    const { server, url } = await session.server({ rounds: 2, minClients: 3, sampling: { fraction: 1, minFit: 2 } });
    const rounds: RoundMetrics[] = [];
    server.on('round', (metrics) => rounds.push(metrics));
    const summary = server.run();
    const victim = startStalledUploader({ url, clientId: 'victim', params: tinyModel.weights.length, updateValue: 100, chunkBytes: 8, sendChunks: 3 });
    session.client(url, 'a', constantTrainer(1));
    session.client(url, 'b', constantTrainer(3));

    // The round waits for every sampled client, so it is still open while the upload is stalled.
    expect(await victim.inFlight).toEqual({ type: 'in-flight', round: 1, sent: 3, of: 4 });
    expect(server.stage).toBe('training');
    const left = nextEvent<string>((l) => server.on('client-left', l));
    const firstRound = nextEvent<RoundMetrics>((l) => server.on('round', l));
    victim.child.kill('SIGKILL');
    expect(await left).toBe('victim');

    const first = await firstRound;
    expect(first).toMatchObject({ round: 1, status: 'completed', selected: 3, replied: 2 });
    expect(first.failed).toEqual([expect.objectContaining({ clientId: 'victim', code: 'client-disconnected' })]);
    // Only the two complete updates (1 and 3, equal weights) moved the model.
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 2, 5));

    // Healthy: a new client is admitted and round 2 runs with all three.
    session.client(url, 'c', constantTrainer(2));
    const result = await summary;
    expect(result.reason).toBe('completed');
    expect(rounds.map((r) => [r.round, r.status, r.replied, r.failed.length])).toEqual([
      [1, 'completed', 2, 1],
      [2, 'completed', 3, 0],
    ]);
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 4, 5));
  });
});
