/**
 * The browser-MNIST example page in real Chromium: a phone-sized run (device emulation,
 * screenshot saved as a test artifact) that shows backend, round and global accuracy without
 * overflowing the screen; pause and resume from the page; the identity key surviving a
 * reload (IndexedDB); and the README's embed snippet working as written.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClientInfo } from '@fedkit/server';
import { constantTrainer, startClient } from '../helpers/federation.js';
import { artifactPath, newMobileContext, watchConsoleErrors } from '../helpers/chromium.js';
import { browserSession, pageEvents, waitForPageEvent } from './browser-harness.js';

const session = browserSession({ webgpu: true });

describe('browser-mnist example page', () => {
  it('works at phone size: trains, shows backend, round and global accuracy, fits the screen', async () => {
    const example = await session.start({ centralExamples: 500 });
    const context = await newMobileContext(session.browser());
    const page = await context.newPage();
    const errors = watchConsoleErrors(page);
    await page.goto(`${example.pageUrl}?slice=6`);
    const summary = await example.summary;
    expect(summary.roundsCompleted).toBe(2);
    // The page refreshes the global accuracy from /api/status every 2 s.
    await page.waitForFunction(() => (document.querySelector('#accuracy-source')?.textContent ?? '').startsWith('after round 2'), undefined, { timeout: 10_000 });
    expect(await page.textContent('#accuracy')).toMatch(/^\d+\.\d\d%$/);
    expect(await page.textContent('#backend')).toBe('webgpu');
    expect(await page.textContent('#round')).toBe('2');
    expect(await page.textContent('#accuracy-source')).toContain('after round 2');
    const layout = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth, touch: navigator.maxTouchPoints }));
    expect(layout.width).toBeLessThan(500);
    expect(layout.touch).toBeGreaterThan(0);
    expect(layout.scroll).toBeLessThanOrEqual(layout.width);
    await page.screenshot({ path: artifactPath('browser-mnist-mobile.png'), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('pauses and resumes local training from the page', async () => {
    // The round waits for a second client, so the pause is certainly in place before it starts.
    const example = await session.start({ sliceExamples: 600, federation: { rounds: 1, minClients: 2, sampling: { fraction: 1, minFit: 2 } } });
    const page = await session.browser().newPage();
    const errors = watchConsoleErrors(page);
    await page.goto(`${example.pageUrl}?backend=wasm&slice=0`);
    await waitForPageEvent(page, (e) => e.type === 'joined');
    await page.click('#pause');
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'joined (paused)');
    const other = startClient(`http://127.0.0.1:${example.port}`, 'scripted-node-client', constantTrainer(0));
    await waitForPageEvent(page, (e) => e.type === 'round-start');
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'training (paused)');
    // Held: at most the batch in flight when the pause arrived finishes, then nothing moves.
    await page.waitForTimeout(300);
    const held = await page.textContent('#progress-text');
    await page.waitForTimeout(1000);
    expect(await page.textContent('#progress-text')).toBe(held);
    expect((await pageEvents(page)).some((e) => e.type === 'train-done')).toBe(false);
    await page.click('#pause');
    await waitForPageEvent(page, (e) => e.type === 'train-done');
    expect((await example.summary).roundsCompleted).toBe(1);
    expect(example.server.roundHistory()[0]!.replied).toBe(2);
    other.stop();
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('keeps its identity key across a reload (IndexedDB)', async () => {
    const example = await session.start({ federation: { rounds: 3, minClients: 2 } });
    const joins: ClientInfo[] = [];
    example.server.on('client-joined', (info) => joins.push(info));
    const context = await session.browser().newContext();
    const page = await context.newPage();
    const errors = watchConsoleErrors(page);
    const identity = async (): Promise<{ clientId: string; key: string; persisted: boolean }> => {
      await waitForPageEvent(page, (e) => e.type === 'joined');
      return page.evaluate(() => {
        const client = (window as unknown as { fedkitExample: { client: { clientId: string; identityPublicKey: string; identityPersisted: boolean } } }).fedkitExample.client;
        return { clientId: client.clientId, key: client.identityPublicKey, persisted: client.identityPersisted };
      });
    };
    await page.goto(`${example.pageUrl}?backend=wasm`);
    const first = await identity();
    await page.reload();
    const second = await identity();
    expect(first.persisted).toBe(true);
    expect(second).toEqual(first);
    expect(first.key).toMatch(/^[0-9a-f]{64}$/);
    expect(joins.length).toBe(2);
    expect(joins.map((j) => Buffer.from(j.identityPublicKey!).toString('hex'))).toEqual([first.key, first.key]);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("the README's embed snippet works as written", async () => {
    const snippet = readFileSync(new URL('../../examples/browser-mnist/embed.html', import.meta.url), 'utf8');
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain(snippet.trim());
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-embed-'));
    writeFileSync(join(dir, 'index.html'), snippet);
    const example = await session.start({ federation: { staticMounts: { '/embed': dir } } });
    const page = await session.browser().newPage();
    const errors = watchConsoleErrors(page);
    // The snippet is a fragment without an icon: answer the browser's favicon request.
    await page.route('**/favicon.ico', (route) => route.fulfill({ status: 204 }));
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    await page.goto(`${example.origin}/embed/`);
    expect((await example.summary).roundsCompleted).toBe(2);
    await page.waitForEvent('console', { predicate: (m) => m.text().startsWith('finished:'), timeout: 10_000 }).catch(() => undefined);
    expect(logs.find((l) => l.startsWith('training on '))).toMatch(/^training on (webgpu|wasm): /);
    expect(logs).toContain('finished: completed 2 rounds');
    expect(logs.filter((l) => /^round \d: loss \d+\.\d{4}$/.test(l))).toHaveLength(2);
    expect(errors).toEqual([]);
  }, 90_000);
});
