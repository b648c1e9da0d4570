/**
 * Training throughput of the paper's 2NN and CNN (batch 10, MNIST-shaped random data) on
 * tfjs-backend-wasm (with Fedkit's gradient kernels) and on tfjs-backend-cpu, in the same
 * run. Samples/s is the median over timed batches after warm-up batches. The cpu CNN takes
 * ~14 s a batch (its conv filter gradient is a naive loop), so only two batches are timed.
 * The last line of output is one JSON object for scripts.
 *
 * Run: pnpm bench:train (builds first).
 */
import { seededRandomSource } from '../packages/protocol/dist/index.js';
import {
  TrainingEngine, createMnist2nn, createMnistCnn, registerWasmMatMulGradients, unregisterWasmMatMulGradients,
} from '../packages/client-core/dist/index.js';
import type { LocalDataset } from '../packages/client-core/dist/index.js';
import { initNodeBackend } from '../packages/client-node/dist/index.js';

const BATCH = 10;
type Model = '2nn' | 'cnn';
type Backend = 'wasm' | 'cpu';

/** Warm-up and timed batch counts per model and backend. */
const PLAN: Record<Model, Record<Backend, { warm: number; timed: number }>> = {
  '2nn': { wasm: { warm: 30, timed: 50 }, cpu: { warm: 10, timed: 30 } },
  cnn: { wasm: { warm: 3, timed: 15 }, cpu: { warm: 1, timed: 2 } },
};

function randomMnist(n: number, seed: number): LocalDataset {
  const random = seededRandomSource(seed);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = random.nextFloat();
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) y[i] = random.nextUint32() % 10;
  return { x, xShape: [784], y, numClasses: 10, length: n };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per-batch wall times (ms) of one epoch over warm + timed batches; returns the timed ones. */
async function batchTimes(model: Model, warm: number, timed: number): Promise<number[]> {
  const engine = TrainingEngine.fromModel(model === '2nn' ? createMnist2nn({ seed: 1 }) : createMnistCnn({ seed: 1 }));
  const times: number[] = [];
  let last = performance.now();
  try {
    await engine.train(randomMnist((warm + timed) * BATCH, 2), {
      epochs: 1, batchSize: BATCH, learningRate: 0.05, random: seededRandomSource(3),
      onProgress: () => {
        const now = performance.now();
        times.push(now - last);
        last = now;
      },
    });
  } finally {
    engine.dispose();
  }
  return times.slice(warm);
}

async function measure(model: Model, backend: Backend): Promise<number> {
  const { warm, timed } = PLAN[model][backend];
  const ms = median(await batchTimes(model, warm, timed));
  const samplesPerSec = (BATCH * 1000) / ms;
  console.log(`${model} ${backend.padEnd(4)} ${samplesPerSec.toFixed(1).padStart(8)} samples/s  (${ms.toFixed(1)} ms/batch, median of ${timed} batches of ${BATCH} after ${warm} warm-up)`);
  return samplesPerSec;
}

/**
 * Baseline for the matmul kernel: the 2NN on wasm with the stock BatchMatMul (naive loop
 * for transposed operands) against Fedkit's, interleaved so machine noise hits both.
 */
async function compareStockMatMul(): Promise<void> {
  const { warm, timed } = PLAN['2nn'].wasm;
  const fast: number[] = [];
  const stock: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    fast.push(...(await batchTimes('2nn', warm, timed)));
    unregisterWasmMatMulGradients();
    try {
      stock.push(...(await batchTimes('2nn', warm, timed)));
    } finally {
      registerWasmMatMulGradients();
    }
  }
  const [f, s] = [median(fast), median(stock)];
  console.log(`2nn wasm, interleaved x3: Fedkit BatchMatMul ${(BATCH * 1000 / f).toFixed(1)} samples/s, stock ${(BATCH * 1000 / s).toFixed(1)} samples/s (${(s / f).toFixed(2)}x)`);
}

async function main(): Promise<void> {
  const result: Record<Model, Record<Backend, number>> = { '2nn': { wasm: 0, cpu: 0 }, cnn: { wasm: 0, cpu: 0 } };
  for (const backend of ['wasm', 'cpu'] as const) {
    const info = await initNodeBackend({ backend, log: (m) => console.log(`warning: ${m}`) });
    console.log(`backend ${info.backend}: ${info.reason}`);
    if (info.backend !== backend) throw new Error(`wanted ${backend}, got ${info.backend}`);
    for (const model of ['2nn', 'cnn'] as const) result[model][backend] = await measure(model, backend);
    if (backend === 'wasm') await compareStockMatMul();
  }
  console.log(`wasm / cpu: 2nn ${(result['2nn'].wasm / result['2nn'].cpu).toFixed(1)}x, cnn ${(result.cnn.wasm / result.cnn.cpu).toFixed(0)}x`);
  const round = (v: number): number => Math.round(v * 10) / 10;
  console.log(JSON.stringify({
    bench: 'train',
    samplesPerSec: {
      '2nn': { wasm: round(result['2nn'].wasm), cpu: round(result['2nn'].cpu) },
      cnn: { wasm: round(result.cnn.wasm), cpu: round(result.cnn.cpu) },
    },
  }));
}

await main();
