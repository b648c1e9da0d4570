/**
 * The operator dashboard in real Chromium, live against a real server and Node clients:
 * charts fill as rounds complete (pushed over the SSE feed), the admin controls pause,
 * resume and stop training with the token kept in sessionStorage, a wrong token is refused
 * on the page, the layout fits a phone, and the console stays clean. Against a server in
 * async mode (FedBuff) the page speaks of model versions, not rounds: mode badge, cards,
 * stage name, chart axes, and the versions table with its staleness column.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { FedkitClient, LocalTrainer } from '@fedkit/client-core';
import type { FederationServer, ServerStatus } from '@fedkit/server';
import { artifactPath, launchChromium, watchConsoleErrors } from '../helpers/chromium.js';
import { constantTrainer, startClient, startServer } from '../helpers/federation.js';
import { ADMIN_TOKEN, createGate, gatedTrainer, getJson, type Gate } from '../helpers/operator.js';

let browser: Browser;
let server: FederationServer | undefined;
const clients: FedkitClient[] = [];

beforeAll(async () => {
  browser = await launchChromium({ webgpu: false });
});

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.stop();
  await server?.close();
  server = undefined;
});

/** Points per dataset of every chart, read from Chart.js itself. */
function chartPoints(page: Page): Promise<Record<string, number[]>> {
  return page.evaluate(() => {
    const out: Record<string, number[]> = {};
    for (const canvas of Array.from(document.querySelectorAll('canvas'))) {
      const chart = (window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { data: { datasets: { data: unknown[] }[] } } | undefined } }).Chart.getChart(canvas);
      out[canvas.id] = chart ? chart.data.datasets.map((d) => d.data.filter((v) => v !== null).length) : [];
    }
    return out;
  });
}

/** Waits for a client to enter the gated round; fails at once if training ends first. */
function entered(gate: Gate, summary: Promise<{ reason: string; message: string }>): Promise<void> {
  return Promise.race([gate.entered, summary.then((s) => Promise.reject(new Error(`training ended before the gated round: ${s.reason}: ${s.message}`)))]);
}

async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(selector).filter({ hasText: text }).waitFor({ timeout: 30_000 });
}

describe('dashboard in Chromium', () => {
  it('shows live charts, and pauses, resumes and stops training from its controls', { timeout: 180_000 }, async () => {
    const gates = new Map<number, Gate>([
      [4, createGate()],
      [5, createGate()],
    ]);
    const started = await startServer({
      rounds: 6,
      minClients: 2,
      evaluate: { every: 1 },
      adminToken: ADMIN_TOKEN,
      allowSeededRandom: true,
      privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 3, expectedClients: 3, budget: { epsilon: 8, delta: 1e-5 } },
    });
    server = started.server;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    // The refused-token step below makes Chromium log the 401 response; nothing else may.
    const errors = watchConsoleErrors(page, [/status of 401 \(Unauthorized\)/]);
    await page.goto(`${started.url}/dashboard`);
    await waitForText(page, '#feed', 'live');
    await waitForText(page, '#stage', 'starting');

    const summary = server.run();
    clients.push(startClient(started.url, 'node-a', gatedTrainer(1, gates)));
    clients.push(startClient(started.url, 'node-b', gatedTrainer(2, gates)));
    clients.push(startClient(started.url, 'node-c', gatedTrainer(3, gates)));
    await entered(gates.get(4)!, summary);

    // Rounds 1-3 arrived over the live feed.
    await waitForText(page, '#rounds-completed', '3');
    await waitForText(page, '#stage', 'training');
    expect(await page.locator('canvas').count()).toBe(4);
    expect(await chartPoints(page)).toEqual({
      'chart-quality': [3, 3],
      'chart-duration': [3, 3, 3],
      'chart-bytes': [3, 3],
      'chart-privacy': [3, 3],
    });
    expect(await page.locator('#chart-quality').evaluate((c) => (c as HTMLCanvasElement).width)).toBeGreaterThan(100);
    expect(await page.locator('#rounds-table tbody tr').count()).toBe(3);
    expect(await page.locator('#rounds-count').textContent()).toBe('(3 completed)');
    const history = server.roundHistory();
    const accuracies = await page.evaluate(() =>
      (window as unknown as { Chart: { getChart(id: string): { data: { datasets: { data: number[] }[] } } } }).Chart.getChart('chart-quality').data.datasets[0]!.data,
    );
    expect(accuracies).toEqual(history.map((r) => r.accuracy));
    expect(await page.locator('#by-platform tbody').textContent()).toBe('node3');
    expect(await page.locator('#by-backend tbody').textContent()).toBe('test3');
    expect(await page.locator('#clients-total').textContent()).toBe('3');
    expect(await page.locator('#epsilon').textContent()).toMatch(/^\d+\.\d{3} \/ 8$/);
    expect(await page.locator('#round').textContent()).toBe('4 / 6');
    // Sync mode: rounds, not model versions.
    expect(await page.locator('#mode').textContent()).toBe('sync rounds');
    expect(await page.locator('#rounds-table thead th').first().textContent()).toBe('round');

    // A wrong token is refused, shown, and forgotten.
    await page.fill('#token', 'not-the-admin-token-at-all');
    await page.click('#token-form button[type=submit]');
    await page.click('#pause');
    await waitForText(page, '#admin-message', 'admin-token-invalid');
    expect(await page.evaluate(() => sessionStorage.getItem('fedkit.adminToken'))).toBeNull();
    expect(server.control.paused).toBe(false);

    // Pause with the right token: the round in progress finishes, then the loop holds.
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#token-form button[type=submit]');
    expect(await page.evaluate(() => sessionStorage.getItem('fedkit.adminToken'))).toBe(ADMIN_TOKEN);
    await page.click('#pause');
    await page.locator('#paused').waitFor({ state: 'visible' });
    expect(await getJson<ServerStatus>(`${started.url}/api/status`)).toMatchObject({ paused: true, stage: 'training' });
    gates.get(4)!.release();
    await waitForText(page, '#stage', 'paused');
    await waitForText(page, '#rounds-completed', '4');
    expect((await chartPoints(page))['chart-quality']).toEqual([4, 4]);
    expect(await page.locator('#pause').isDisabled()).toBe(true);
    await page.screenshot({ path: artifactPath('dashboard.png'), fullPage: true });

    // Phone width: everything reflows into one column, nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth);
    await page.screenshot({ path: artifactPath('dashboard-mobile.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    // Resume: round 5 starts; stop during it: round 5 finishes and training ends.
    await page.click('#resume');
    await entered(gates.get(5)!, summary);
    await page.locator('#paused').waitFor({ state: 'hidden' });
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#stop');
    await page.locator('#stopping').waitFor({ state: 'visible' });
    gates.get(5)!.release();
    const result = await summary;
    expect(result).toMatchObject({ reason: 'stopped', roundsCompleted: 5 });
    await waitForText(page, '#stage', 'stopped');
    await waitForText(page, '#admin-message', 'Training ended (stopped)');
    await waitForText(page, '#rounds-completed', '5');
    expect((await chartPoints(page))['chart-privacy']).toEqual([5, 5]);
    expect(await page.locator('#stop').isDisabled()).toBe(true);

    await context.close();
    expect(errors).toEqual([]);
  });
});

/** A constant trainer that takes `delayMs` per task, so the page can be watched mid-run. */
function slowTrainer(value: number, delayMs: number): LocalTrainer {
  const inner = constantTrainer(value, 10, 5);
  return {
    ...inner,
    async train(global, config, context) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return inner.train(global, config, context);
    },
  };
}

function xAxisTitles(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('canvas')).map((canvas) => {
      const chart = (window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { options: { scales: { x: { title: { text: string } } } } } | undefined } }).Chart.getChart(canvas);
      return chart?.options.scales.x.title.text ?? '';
    }),
  );
}

describe('dashboard in async mode, in Chromium', () => {
  it('labels model versions instead of rounds: status, stage, charts and the versions table', { timeout: 120_000 }, async () => {
    const started = await startServer({
      mode: 'async',
      async: { bufferSize: 2, maxStaleness: 10, maxVersions: 4, failureBackoffMs: 0 } as never,
      minClients: 3,
      evaluate: { every: 1 },
    });
    server = started.server;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = watchConsoleErrors(page);
    await page.goto(`${started.url}/dashboard`);
    await waitForText(page, '#feed', 'live');

    // From the first snapshot on, before any version exists.
    await waitForText(page, '#mode', 'async: model versions (FedBuff)');
    expect(await page.locator('.cards h2').allTextContents()).toEqual(expect.arrayContaining(['Model version', 'Published']));
    expect(await page.locator('#rounds-table thead th').allTextContents()).toEqual(['version', 'status', 'updates / tasks', 'build time', 'staleness (mean / max)', 'accuracy', 'loss', 'in', 'out', 'ε']);
    expect(await page.locator('section[aria-label=rounds] h2').textContent()).toMatch(/^Model versions \(0 published\)$/);
    expect(await page.locator('#chart-duration').locator('xpath=..').locator('xpath=..').locator('figcaption').textContent()).toBe('Time to build each model version (seconds)');
    expect(new Set(await xAxisTitles(page))).toEqual(new Set(['model version']));
    expect(await page.locator('#round').textContent()).toBe('v0 / 4');

    const summary = server.run();
    for (const id of ['a', 'b', 'c']) clients.push(startClient(started.url, `node-${id}`, slowTrainer(0.01, 500)));
    await waitForText(page, '#stage', 'training (async)');
    const result = await summary;
    expect(result).toMatchObject({ reason: 'completed', roundsCompleted: 4 });

    await waitForText(page, '#stage', 'finished');
    await waitForText(page, '#rounds-completed', '4');
    expect(await page.locator('#round').textContent()).toBe('v4 / 4');
    expect(await page.locator('#rounds-count').textContent()).toBe('(4 published)');
    const rows = page.locator('#rounds-table tbody tr');
    expect(await rows.count()).toBe(4);
    const newest = await rows.first().locator('td').allTextContents();
    const v4 = server.roundHistory().at(-1)!;
    expect(newest[0]).toBe('v4');
    expect(newest[2]).toBe(`2/${v4.selected}`);
    expect(newest[4]).toBe(`${v4.async!.stalenessMean.toFixed(2)} / ${v4.async!.stalenessMax}`);
    await page.screenshot({ path: artifactPath('dashboard-async.png'), fullPage: true });
    await page.close();
    expect(errors).toEqual([]);
  });
});
