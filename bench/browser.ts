/**
 * Training throughput of the paper's 2NN (batch 10, real MNIST from the example server) in
 * headless Debian Chromium, per tfjs backend — webgpu, wasm, webgl, cpu — in the same run,
 * each in a fresh page. Samples/s comes from the engine's own timing of the timed epochs,
 * after a warm-up run (shader compilation, wasm start). On this CPU-only machine WebGPU and
 * WebGL run on SwiftShader: they prove correctness, not speed. A backend that cannot start
 * reports null and its reason. The last line of output is one JSON object for scripts.
 *
 * Run: pnpm bench:browser (builds first).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../tests/helpers/chromium.js';
import { SDK_PAGE_HTML, type FedkitSdk } from '../tests/browser/browser-harness.js';
import { startBrowserMnist } from '../examples/browser-mnist/server.js';

const BACKENDS = ['webgpu', 'wasm', 'webgl', 'cpu'] as const;
type Backend = (typeof BACKENDS)[number];

/** Examples and epochs for warm-up and timing, per backend (SwiftShader WebGPU is slow). */
const PLAN: Record<Backend, { warm: number; examples: number; epochs: number }> = {
  webgpu: { warm: 50, examples: 200, epochs: 1 },
  wasm: { warm: 500, examples: 1000, epochs: 3 },
  webgl: { warm: 100, examples: 500, epochs: 1 },
  cpu: { warm: 200, examples: 1000, epochs: 1 },
};

interface Outcome {
  samplesPerSec: number | null;
  reason: string;
}

const pageDir = mkdtempSync(join(tmpdir(), 'fedkit-bench-'));
writeFileSync(join(pageDir, 'index.html'), SDK_PAGE_HTML);
const example = await startBrowserMnist({ sliceExamples: 1000, slices: 1, testExamples: 1, centralExamples: 0, federation: { rounds: 1, minClients: 1_000, staticMounts: { '/bench': pageDir } } });
const browser = await launchChromium({ webgpu: true });
const results: Record<Backend, Outcome> = {} as Record<Backend, Outcome>;
try {
  for (const backend of BACKENDS) {
    const page = await browser.newPage();
    await page.goto(`${example.origin}/bench/`);
    await page.waitForFunction(() => 'fedkit' in window);
    results[backend] = await page.evaluate(
      async ({ backend, plan }) => {
        const sdk = (window as unknown as { fedkit: FedkitSdk }).fedkit;
        let reason: string;
        try {
          reason = (await sdk.initWebBackend({ backend, wasmPaths: '/fedkit/tfjs-wasm/' })).reason;
        } catch (error) {
          return { samplesPerSec: null, reason: (error as Error).message };
        }
        const bytes = new Uint8Array(await (await fetch('/examples/browser-mnist/data/train.bin?slice=0')).arrayBuffer());
        const n = bytes.length / 785;
        // (No local helper functions here: tsx would wrap them in a __name() the page lacks.)
        const warm = await sdk.toLocalDataset({ x: bytes.subarray(0, plan.warm * 784), y: bytes.subarray(n * 784, n * 784 + plan.warm), xShape: [784], numClasses: 10, scale: 1 / 255 });
        const data = await sdk.toLocalDataset({ x: bytes.subarray(0, plan.examples * 784), y: bytes.subarray(n * 784, n * 784 + plan.examples), xShape: [784], numClasses: 10, scale: 1 / 255 });
        const engine = sdk.TrainingEngine.fromModel(sdk.createMnist2nn());
        await engine.train(warm, { epochs: 1, batchSize: 10, learningRate: 0.05 });
        const timed = await engine.train(data, { epochs: plan.epochs, batchSize: 10, learningRate: 0.05 });
        engine.dispose();
        return { samplesPerSec: timed.metrics.samplesPerSec, reason };
      },
      { backend, plan: PLAN[backend] },
    );
    const r = results[backend];
    console.log(`${backend.padEnd(6)} ${r.samplesPerSec === null ? 'unavailable' : `${r.samplesPerSec.toFixed(1)} samples/s`} · ${r.reason}`);
    await page.close();
  }
} finally {
  await browser.close();
  await example.close();
}
const samplesPerSec = Object.fromEntries(BACKENDS.map((b) => [b, results[b].samplesPerSec === null ? null : Math.round(results[b].samplesPerSec! * 10) / 10]));
console.log(JSON.stringify({ bench: 'browser', samplesPerSec }));
