/**
 * A browser client in real Chromium (Debian's, headless) joins a real server, trains on its
 * slice of MNIST and completes rounds: on WebGPU (SwiftShader), on WASM, and next to a Node
 * client in the same rounds. Updates are accepted and aggregated (the server's round metrics
 * and its model version say so) and the console stays free of errors.
 */
import { describe, expect, it } from 'vitest';
import { loadMnistPartition, startNodeClient } from '@fedkit/client-node';
import { watchConsoleErrors } from '../helpers/chromium.js';
import { browserSession, waitForPageEvent } from './browser-harness.js';

const session = browserSession({ webgpu: true });

async function runRounds(backend: 'webgpu' | 'wasm'): Promise<void> {
  const example = await session.start();
  const before = example.server.currentWeights().slice();
  const page = await session.browser().newPage();
  const errors = watchConsoleErrors(page);
  await page.goto(`${example.pageUrl}?backend=${backend}&slice=1`);
  const summary = await example.summary;
  expect(summary.reason).toBe('completed');
  expect(summary.roundsCompleted).toBe(2);
  const rounds = example.server.roundHistory().filter((r) => r.status === 'completed');
  expect(rounds.map((r) => [r.round, r.replied, r.failed.length])).toEqual([
    [1, 1, 0],
    [2, 1, 0],
  ]);
  expect(rounds[1]!.train.loss).toBeGreaterThan(0);
  expect(example.server.modelVersion).toBe(2);
  const after = example.server.currentWeights();
  expect(after.some((v, i) => v !== before[i])).toBe(true);
  const status = example.server.status();
  expect(status.clients.byPlatform).toEqual({ browser: 1 });
  expect(status.clients.byBackend).toEqual({ [backend]: 1 });
  const done = await waitForPageEvent(page, (e) => e.type === 'finished');
  expect(done.reason).toBe('completed');
  expect(await page.textContent('#backend')).toBe(backend);
  expect(await page.textContent('#round')).toBe('2');
  expect(errors).toEqual([]);
  await page.close();
}

describe('browser client in Chromium', () => {
  it('completes 2 rounds on the WebGPU backend; the server aggregates its updates', () => runRounds('webgpu'), 120_000);

  it('completes 2 rounds on the WASM backend; the server aggregates its updates', () => runRounds('wasm'), 120_000);

  it('a Node client and a browser client train in the same rounds', async () => {
    const example = await session.start({ federation: { minClients: 2, sampling: { fraction: 1, minFit: 2 } } });
    const page = await session.browser().newPage();
    const errors = watchConsoleErrors(page);
    await page.goto(`${example.pageUrl}?backend=wasm&slice=2`);
    const train = await loadMnistPartition({ split: 'train', partition: { kind: 'iid' }, numClients: 1000, index: 7, seed: 0 });
    const node = await startNodeClient({ serverUrl: `http://127.0.0.1:${example.port}`, clientId: 'node-next-to-browser', train });
    const summary = await example.summary;
    await node.finished;
    expect(summary.roundsCompleted).toBe(2);
    for (const round of example.server.roundHistory()) {
      expect(round.status).toBe('completed');
      expect(round.replied).toBe(2);
      expect(round.failed).toEqual([]);
    }
    const events = await waitForPageEvent(page, (e) => e.type === 'train-done' && e.round === 2);
    expect(events.numExamples).toBe(40);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
