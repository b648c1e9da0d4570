/**
 * Shared pieces of the browser tests: the browser-MNIST example server on port 0 with tiny
 * slices (WebGPU runs on SwiftShader here: slow), and waits on what the example page records
 * in `window.fedkitExample.events` (no sleeps: poll the page's own record).
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, type LaunchOptions } from '../helpers/chromium.js';
import type * as Sdk from '@fedkit/client-web';
import { startBrowserMnist, type BrowserMnistOptions, type BrowserMnistServer } from '../../examples/browser-mnist/server.js';

export interface PageEvent {
  type: string;
  [key: string]: unknown;
}

/** The example server with small data and quick rounds unless overridden. */
export function startExample(options: BrowserMnistOptions = {}): Promise<BrowserMnistServer> {
  return startBrowserMnist({
    sliceExamples: 40,
    testExamples: 20,
    centralExamples: 0,
    ...options,
    federation: {
      rounds: 2,
      roundDeadlineMs: 60_000,
      train: { epochs: 1, batchSize: 10, learningRate: 0.05 },
      ...options.federation,
    },
  });
}

/** The events the example page recorded so far. */
export function pageEvents(page: Page): Promise<PageEvent[]> {
  return page.evaluate(() => (window as unknown as { fedkitExample?: { events: PageEvent[] } }).fedkitExample?.events ?? []);
}

/**
 * Waits until the page has recorded an event matching `predicate` (at index `from` or
 * later); returns it.
 */
export async function waitForPageEvent(page: Page, predicate: (event: PageEvent) => boolean, timeoutMs = 60_000, from = 0): Promise<PageEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await pageEvents(page)).slice(from).find(predicate);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no matching page event within ${timeoutMs} ms; events: ${JSON.stringify(await pageEvents(page)).slice(0, 2000)}`);
    await page.waitForTimeout(100);
  }
}

/** A same-origin page that loads the SDK bundle as `window.fedkit`, for SDK calls from tests. */
export const SDK_PAGE_HTML =
  '<!doctype html><link rel="icon" href="data:,"><title>sdk</title>' +
  "<script type=\"module\">import * as sdk from '/fedkit/client-web/fedkit-web.js'; window.fedkit = sdk;</script>";

/** The SDK as the page above exposes it (`window.fedkit`). */
export type FedkitSdk = typeof Sdk;

/**
 * The hooks every browser test file needs: one Chromium for the file, and the example
 * server each test starts (through `start`) closed after that test.
 */
export function browserSession(launch: LaunchOptions): { browser: () => Browser; start: (options?: BrowserMnistOptions) => Promise<BrowserMnistServer> } {
  let browser: Browser | undefined;
  let example: BrowserMnistServer | undefined;
  beforeAll(async () => {
    browser = await launchChromium(launch);
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await example?.close();
    example = undefined;
  });
  return {
    browser: () => browser!,
    start: async (options) => (example = await startExample(options)),
  };
}
