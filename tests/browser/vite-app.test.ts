/**
 * The ESM package works for bundler users: a Vite build of an app that imports
 * `@fedkit/client-web` (tests/fixtures/vite-app) is served next to the example server, and
 * the built page trains rounds in Chromium, in a Web Worker that Vite bundled.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, watchConsoleErrors } from '../helpers/chromium.js';
import { startExample } from './browser-harness.js';

const APP_DIR = fileURLToPath(new URL('../fixtures/vite-app/', import.meta.url));
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const close of cleanup.reverse()) await close();
});

interface AppEvent {
  type: string;
  mode?: string;
  backend?: string;
  round?: number;
}

async function appEvents(page: Page): Promise<AppEvent[]> {
  return page.evaluate(() => (window as unknown as { fedkitViteApp?: { events: AppEvent[] } }).fedkitViteApp?.events ?? []);
}

describe('@fedkit/client-web in a Vite build', () => {
  it('builds with Vite and the built page trains in a Web Worker', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'fedkit-vite-app-'));
    await build({ root: APP_DIR, base: '/vite-app/', logLevel: 'error', build: { outDir, emptyOutDir: true } });

    const example = await startExample({ federation: { staticMounts: { '/vite-app': outDir } } });
    cleanup.push(() => example.close());
    const browser = await launchChromium({ webgpu: false });
    cleanup.push(() => browser.close());
    const page = await browser.newPage();
    const errors = watchConsoleErrors(page);
    await page.goto(`${example.origin}/vite-app/`);

    const summary = await example.summary;
    expect(summary.roundsCompleted).toBe(2);
    expect(example.server.roundHistory().map((r) => [r.status, r.replied])).toEqual([
      ['completed', 1],
      ['completed', 1],
    ]);
    const events = await appEvents(page);
    expect(events.find((e) => e.type === 'started')).toMatchObject({ mode: 'worker', backend: 'wasm' });
    expect(events.filter((e) => e.type === 'train-done').map((e) => e.round)).toEqual([1, 2]);
    expect(events.filter((e) => e.type === 'log' && /main thread/.test(JSON.stringify(e)))).toEqual([]);
    expect(errors).toEqual([]);
  }, 120_000);
});
