/**
 * Bad input for the browser client, in real Chromium: no WebGPU (an insecure origin, and a
 * browser without an adapter) falls back with a logged reason; a server that dies mid-round
 * leaves the page usable and the client reconnecting; a corrupted model download is caught
 * by its CRC-32 and fetched again; data of the wrong shape is refused before any training,
 * naming the expected shape.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { ClientInfo } from '@fedkit/server';
import { launchChromium, watchConsoleErrors } from '../helpers/chromium.js';
import { SDK_PAGE_HTML, pageEvents, type FedkitSdk, startExample, waitForPageEvent } from './browser-harness.js';
import type { BrowserMnistServer } from '../../examples/browser-mnist/server.js';

let browser: Browser | undefined;
let example: BrowserMnistServer | undefined;
const children: ChildProcess[] = [];

afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await example?.close();
  example = undefined;
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A folder holding the SDK page, to serve next to the example. */
function sdkPageDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fedkit-blank-'));
  writeFileSync(join(dir, 'index.html'), SDK_PAGE_HTML);
  return dir;
}

/** `pnpm example:browser` in a child process (so it can die for real); resolves to its port. */
async function spawnExampleServer(port: number): Promise<number> {
  const main = fileURLToPath(new URL('../../examples/browser-mnist/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main, '--json', '--port', String(port), '--slice-examples', '200', '--central-examples', '0', '--rounds', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`example server exited with ${code}: ${output}`)));
  });
}

describe('browser client: bad input', () => {
  it('an insecure origin has no WebGPU: the client falls back to wasm, logs why and reports it in the hello', async () => {
    example = await startExample();
    const joined = new Promise<ClientInfo>((resolve) => example!.server.once('client-joined', resolve));
    browser = await launchChromium({ webgpu: true, args: ['--host-resolver-rules=MAP fedkit.test 127.0.0.1'] });
    const page = await browser.newPage();
    const errors = watchConsoleErrors(page);
    const warnings: string[] = [];
    page.on('console', (m) => warnings.push(m.text()));
    await page.goto(`http://fedkit.test:${example.port}/examples/browser-mnist/?slice=3`);
    expect(await page.evaluate(() => isSecureContext)).toBe(false);
    const info = await joined;
    expect(info.backend).toBe('wasm');
    expect(info.backendReason).toContain('WebGPU unavailable: the page is not a secure context');
    expect((await example.summary).roundsCompleted).toBe(2);
    expect(warnings.some((w) => /backend wasm: .*WebGPU unavailable: the page is not a secure context/.test(w))).toBe(true);
    expect(await page.textContent('#backend-reason')).toContain('not a secure context');
    expect(errors).toEqual([]);
  }, 90_000);

  it('a browser without a WebGPU adapter falls back to wasm with the reason', async () => {
    example = await startExample({ federation: { staticMounts: { '/blank': sdkPageDir() } } });
    browser = await launchChromium({ webgpu: false });
    const page = await browser.newPage();
    await page.goto(`${example.origin}/blank/`);
    await page.waitForFunction(() => 'fedkit' in window);
    const backend = await page.evaluate(async () => {
      const sdk = (window as unknown as { fedkit: FedkitSdk }).fedkit;
      return sdk.initWebBackend({ wasmPaths: '/fedkit/tfjs-wasm/' });
    });
    expect(backend.backend).toBe('wasm');
    expect(backend.reason).toMatch(/WebGPU unavailable: (navigator\.gpu\.requestAdapter\(\) returned no adapter|navigator\.gpu is missing)/);
    // Forcing WebGPU where it cannot start is refused with the browser's reason, before joining.
    const forced = await page.evaluate(async () => {
      const sdk = (window as unknown as { fedkit: FedkitSdk }).fedkit;
      const train = { x: new Float32Array(784), y: new Uint8Array(1), xShape: [784], numClasses: 10 };
      return sdk.startWebClient({ train, backend: 'webgpu' }).then(
        () => null,
        (e: { code: string; message: string }) => ({ code: e.code, message: e.message }),
      );
    });
    expect(forced?.code).toBe('backend-unavailable');
    expect(forced?.message).toMatch(/^backend "webgpu" was requested but cannot start: WebGPU unavailable/);
    expect(example.server.status().clients.total).toBe(0);
  }, 60_000);

  it('a worker script that cannot load: training moves to the main thread and says why', async () => {
    example = await startExample({ federation: { rounds: 1, staticMounts: { '/blank': sdkPageDir() } } });
    browser = await launchChromium({ webgpu: false });
    const page = await browser.newPage();
    // The missing worker script is the point of this test.
    const errors = watchConsoleErrors(page, [/status of 404/]);
    await page.goto(`${example.origin}/blank/`);
    await page.waitForFunction(() => 'fedkit' in window);
    const outcome = await page.evaluate(async () => {
      const sdk = (window as unknown as { fedkit: FedkitSdk }).fedkit;
      const x = new Float32Array(20 * 784).fill(0.5);
      const y = Uint8Array.from({ length: 20 }, (_, i) => i % 10);
      const client = await sdk.startWebClient({ train: { x, y, xShape: [784], numClasses: 10 }, backend: 'wasm', workerUrl: '/no-such-worker.js' });
      const logs: string[] = [];
      client.on('log', ({ message }) => logs.push(message));
      const finished = await client.finished;
      return { mode: client.mode, reason: finished.reason, logs };
    });
    expect(outcome.mode).toBe('main-thread');
    expect(outcome.reason).toBe('completed');
    expect(outcome.logs.some((m) => m.startsWith('training on the main thread: the worker failed'))).toBe(true);
    expect(example.server.roundHistory()[0]!.replied).toBe(1);
    expect(errors).toEqual([]);
  }, 60_000);

  it('a server that dies mid-round leaves the page usable and the client reconnecting; it rejoins a new server', async () => {
    const port = await spawnExampleServer(0);
    browser = await launchChromium({ webgpu: false });
    const page = await browser.newPage();
    // The page polls /api/status and the socket retries while the server is down: those fail by design.
    const errors = watchConsoleErrors(page, [/ERR_CONNECTION_(REFUSED|RESET)/, /WebSocket connection to .* failed/]);
    await page.goto(`http://localhost:${port}/examples/browser-mnist/?backend=wasm&slice=4`);
    await waitForPageEvent(page, (e) => e.type === 'joined');
    // Pause, so the round is certainly in progress (held before its first batch) when the server dies.
    await page.click('#pause');
    await waitForPageEvent(page, (e) => e.type === 'round-start');
    children.shift()!.kill('SIGKILL');
    await waitForPageEvent(page, (e) => e.type === 'state' && e.state === 'reconnecting');
    expect(await page.textContent('#state')).toBe('reconnecting (paused)');
    // Still usable: the controls answer and the page's script runs.
    await page.click('#pause');
    expect(await page.textContent('#pause')).toBe('Pause');
    expect(await page.evaluate(() => document.querySelectorAll('#log li').length)).toBeGreaterThan(0);
    const before = (await pageEvents(page)).length;
    await spawnExampleServer(port);
    await waitForPageEvent(page, (e) => e.type === 'joined', 30_000, before);
    const done = await waitForPageEvent(page, (e) => e.type === 'train-done', 60_000, before);
    expect(done.round).toBe(1);
    expect(await page.textContent('#state')).not.toContain('reconnecting');
    expect(errors).toEqual([]);
  }, 120_000);

  it('a corrupted model download is caught by its CRC-32 and fetched again', async () => {
    example = await startExample({ federation: { rounds: 1 } });
    let corrupted = 0;
    example.server.io.on('connection', (socket) => {
      const emit = socket.emit.bind(socket) as (event: string, ...args: unknown[]) => boolean;
      (socket as unknown as { emit: typeof emit }).emit = (event, ...args) => {
        const chunk = args[0] as { data?: Uint8Array };
        if (event === 'chunk' && corrupted === 0 && chunk.data !== undefined) {
          corrupted++;
          const data = new Uint8Array(chunk.data);
          data[0]! ^= 0xff;
          return emit(event, { ...chunk, data }, ...args.slice(1));
        }
        return emit(event, ...args);
      };
    });
    browser = await launchChromium({ webgpu: false });
    const page = await browser.newPage();
    const errors = watchConsoleErrors(page);
    await page.goto(`${example.pageUrl}?backend=wasm&slice=5`);
    const summary = await example.summary;
    expect(corrupted).toBe(1);
    expect(summary.roundsCompleted).toBe(1);
    const attempts = example.server.roundHistory();
    expect(attempts[0]!.status).toBe('failed');
    expect(attempts[0]!.failed.map((f) => f.code)).toEqual(['chunk-checksum-mismatch']);
    expect(attempts.at(-1)!.status).toBe('completed');
    expect(attempts.at(-1)!.replied).toBe(1);
    const logs = (await pageEvents(page)).filter((e) => e.type === 'log').map((e) => String(e.message));
    expect(logs.some((m) => /CRC-32 \d+ does not match/.test(m))).toBe(true);
    expect(errors).toEqual([]);
  }, 90_000);

  it('data of the wrong shape is refused before any training, naming the expected shape', async () => {
    example = await startExample({ federation: { staticMounts: { '/blank': sdkPageDir() } } });
    browser = await launchChromium({ webgpu: false });
    const page = await browser.newPage();
    const errors = watchConsoleErrors(page);
    await page.goto(`${example.origin}/blank/`);
    await page.waitForFunction(() => 'fedkit' in window);
    const outcome = await page.evaluate(async () => {
      const sdk = (window as unknown as { fedkit: FedkitSdk }).fedkit;
      const train = { x: new Float32Array(10 * 100), y: new Uint8Array(10), xShape: [100], numClasses: 10 };
      // 1. The app states the model's input: refused before connecting.
      const early = await sdk.startWebClient({ train, backend: 'wasm', expectedShape: { xShape: [784], numClasses: 10 } }).then(
        () => null,
        (e: { code: string; message: string }) => ({ code: e.code, message: e.message }),
      );
      // 2. It does not: refused when the server's model arrives, before any training.
      const client = await sdk.startWebClient({ train, backend: 'wasm' });
      const progress: unknown[] = [];
      client.on('progress', (p) => progress.push(p));
      const late = await client.finished.then(
        () => null,
        (e: { code: string; message: string }) => ({ code: e.code, message: e.message }),
      );
      return { early, late, progress: progress.length };
    });
    expect(outcome.early).toEqual({ code: 'data-invalid', message: 'examples have shape [100], the model expects [784]' });
    expect(outcome.late?.code).toBe('data-invalid');
    expect(outcome.late?.message).toContain('the model expects [784]');
    expect(outcome.progress).toBe(0);
    expect(example.server.roundHistory().filter((r) => r.replied > 0)).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);
});
