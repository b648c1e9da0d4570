/**
 * Privacy features run in the browser unchanged: a browser client seals and signs its
 * updates (tweetnacl) for a server that requires it, and takes part in SecAgg+ rounds next
 * to a Node client, the server learning only the sum. A server that requires enrollment
 * tokens refuses a browser without one and lets in a browser with one.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMnistPartition, startNodeClient } from '@fedkit/client-node';
import { createEnrollmentToken, defaultSecretFile, loadServerSecret } from '@fedkit/server';
import { watchConsoleErrors } from '../helpers/chromium.js';
import { browserSession, waitForPageEvent } from './browser-harness.js';

const session = browserSession({ webgpu: false });

describe('browser client privacy', () => {
  it('seals and signs its updates for a server with encryptUpdates', async () => {
    const example = await session.start({ federation: { encryptUpdates: true } });
    const page = await session.browser().newPage();
    const errors = watchConsoleErrors(page);
    await page.goto(`${example.pageUrl}?backend=wasm&slice=7`);
    const summary = await example.summary;
    expect(summary.roundsCompleted).toBe(2);
    expect(example.server.roundHistory().map((r) => [r.status, r.replied, r.failed.length])).toEqual([
      ['completed', 1, 0],
      ['completed', 1, 0],
    ]);
    await waitForPageEvent(page, (e) => e.type === 'finished');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('takes part in SecAgg+ rounds with a Node client', async () => {
    const example = await session.start({ federation: { minClients: 2, sampling: { fraction: 1, minFit: 2 }, secureAggregation: { enabled: true } } });
    const page = await session.browser().newPage();
    const errors = watchConsoleErrors(page);
    await page.goto(`${example.pageUrl}?backend=wasm&slice=8`);
    const train = await loadMnistPartition({ split: 'train', partition: { kind: 'iid' }, numClients: 1000, index: 9, seed: 0 });
    const node = await startNodeClient({ serverUrl: `http://127.0.0.1:${example.port}`, clientId: 'node-secagg', train });
    const summary = await example.summary;
    await node.finished;
    expect(summary.roundsCompleted).toBe(2);
    for (const round of example.server.roundHistory()) {
      expect(round.status).toBe('completed');
      expect(round.replied).toBe(2);
    }
    await waitForPageEvent(page, (e) => e.type === 'train-done' && e.round === 2);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('joins a server with auth only with an enrollment token', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fedkit-browser-auth-'));
    const example = await session.start({ federation: { dataDir, auth: { federationId: 'browser-fed' } } });
    const secret = loadServerSecret(defaultSecretFile(dataDir), { create: false });
    const { token } = createEnrollmentToken({ secret, federationId: 'browser-fed', ttlMs: 3600_000 });

    const stranger = await session.browser().newPage();
    const strangerErrors = watchConsoleErrors(stranger);
    await stranger.goto(`${example.pageUrl}?backend=wasm&slice=3`);
    const refused = await waitForPageEvent(stranger, (e) => e.type === 'error');
    expect(refused).toMatchObject({ code: 'auth-missing' });
    expect(example.server.status().clients.total).toBe(0);
    await stranger.close();

    const member = await session.browser().newPage();
    const errors = watchConsoleErrors(member);
    await member.goto(`${example.pageUrl}?backend=wasm&slice=4&token=${encodeURIComponent(token)}`);
    const summary = await example.summary;
    expect(summary.roundsCompleted).toBe(2);
    expect(example.server.roundHistory().map((r) => [r.status, r.replied])).toEqual([
      ['completed', 1],
      ['completed', 1],
    ]);
    expect(errors).toEqual([]);
    expect(strangerErrors.every((e) => /auth-missing|join refused/.test(e))).toBe(true);
    await member.close();
  }, 90_000);
});
