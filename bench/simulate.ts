/**
 * Harness overhead of `fedkit simulate`: one round of the CNN config (K = 100, C = 0.1: 10
 * clients of 600 MNIST examples) through the real server, sockets and worker pool, against
 * the same work done by bare tfjs in the same run: the 10 partitions trained with the same
 * config from the same weights, split over as many bare worker threads as the simulation had
 * workers, all at once (bench/simulate-baseline-worker.ts); summed engine time divided by
 * the worker count. ratio = roundMs / trainOnlyMs (target ≤ 1.15). roundMs is the server's
 * round duration (sampling to new model; central evaluation excluded). Also printed: the
 * same work on one thread alone (ratioToOneThreadAlone: includes what running two trainers
 * side by side costs on these vCPUs, which is the machine's cost, not the harness's) and the
 * engine time measured inside the workers (Σ per-client trainMs / workers; overheadRatio =
 * roundMs / that).
 *
 * Run: pnpm bench:simulate [-- --epochs N] [-- --workers N] (builds first). Last line: one JSON object.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { createMnist2nn, createMnistCnn, serializeModel } from '../packages/client-core/dist/index.js';
import type { WeightsLayout } from '../packages/protocol/dist/index.js';
import { loadSimulationConfig, mixSeed, runSimulation } from '../packages/simulation/dist/index.js';
import type { BaselineJob } from './simulate-baseline-worker.js';

const { values } = parseArgs({ options: { epochs: { type: 'string' }, config: { type: 'string' }, workers: { type: 'string' } } });
const path = values.config ?? 'examples/simulations/mcmahan-cnn-iid.json';
const loaded = await loadSimulationConfig(path);
const epochs = values.epochs === undefined ? loaded.train.epochs : Number(values.epochs);
// One round; evaluation on 1,000 test images only (it is not part of the timed round).
const config = {
  ...loaded,
  rounds: 1,
  targetAccuracy: undefined,
  workers: values.workers === undefined ? loaded.workers : Number(values.workers),
  train: { ...loaded.train, epochs },
  dataset: loaded.dataset.name === 'mnist' ? { ...loaded.dataset, testLimit: 1000 } : loaded.dataset,
};

const result = await runSimulation(config, { runDir: await mkdtemp(join(tmpdir(), 'fedkit-bench-sim-')) });
const round = result.history[0]!;
const clients = round.selected;
process.stdout.write(`simulation: ${clients} clients on ${result.workers} workers · round ${round.durationMs} ms (train phase ${round.trainPhaseMs} ms) · peak RSS ${(result.peakRssBytes / 2 ** 20).toFixed(0)} MiB\n`);

// Bare tfjs, the same work (clients × 600 examples × E epochs), twice: split over as many
// threads as the simulation had workers, all training at once (the baseline of `ratio`: the
// same parallelism without server, sockets or harness), then on one thread alone.
const { initialWeights, topology, layout } = await initialModelOf(config);
const baselineJob = (clientIndices: number[]): BaselineJob => ({
  clientIndices, numClients: config.clients, partition: config.partition, partitionSeed: mixSeed(config.seed, 3),
  topology, layout, initialWeights, epochs, batchSize: config.train.batchSize, learningRate: config.train.learningRate,
});
const indices = Array.from({ length: clients }, (_, i) => i);
const split = Array.from({ length: result.workers }, (_, w) => indices.filter((i) => i % result.workers === w));
const parallelMs = (await Promise.all(split.map((part) => trainInThread(baselineJob(part))))).flat();
const trainOnlyMs = sum(parallelMs) / result.workers;
const sequentialMs = await trainInThread(baselineJob(indices));
const sequentialTrainOnlyMs = sum(sequentialMs) / result.workers;
process.stdout.write(
  `bare tfjs: ${clients} clients on ${result.workers} threads at once, ${sum(parallelMs).toFixed(0)} ms summed / ${result.workers} = ${trainOnlyMs.toFixed(0)} ms` +
    ` · on one thread alone ${sum(sequentialMs).toFixed(0)} ms / ${result.workers} = ${sequentialTrainOnlyMs.toFixed(0)} ms\n`,
);
// The server's train metrics are example-weighted means; clients hold equal shares here.
const inWorkerMs = ((round.train.trainMs ?? 0) * clients) / result.workers;
process.stdout.write(
  `in workers: ${inWorkerMs.toFixed(0)} ms of engine time per worker · harness overhead ${(round.durationMs / inWorkerMs).toFixed(3)}× · side-by-side slowdown ${(trainOnlyMs / sequentialTrainOnlyMs).toFixed(3)}×\n`,
);
process.stdout.write(
  `${JSON.stringify({
    bench: 'simulate', clients, workers: result.workers, roundMs: round.durationMs, trainOnlyMs: Math.round(trainOnlyMs),
    ratio: Number((round.durationMs / trainOnlyMs).toFixed(3)), epochs, inWorkerTrainMs: Math.round(inWorkerMs),
    overheadRatio: Number((round.durationMs / inWorkerMs).toFixed(3)),
    sequentialTrainOnlyMs: Math.round(sequentialTrainOnlyMs), ratioToOneThreadAlone: Number((round.durationMs / sequentialTrainOnlyMs).toFixed(3)),
  })}\n`,
);

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Runs one baseline job in a fresh worker thread; resolves with its per-client engine times (ms). */
function trainInThread(job: BaselineJob): Promise<number[]> {
  return new Promise((resolve, reject) => {
    // A TypeScript worker: the thread registers tsx's loader before importing it.
    const script = new URL('./simulate-baseline-worker.ts', import.meta.url).href;
    const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); });`;
    const worker = new Worker(boot, { eval: true, workerData: job });
    worker.once('message', (trainMs: number[]) => resolve(trainMs));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`baseline thread exited with code ${code}`));
    });
  });
}

/** The simulation's seeded initial model (model seed = mixSeed(seed, 2), as in run-simulation.ts). */
async function initialModelOf(c: typeof config): Promise<{ initialWeights: Float32Array; topology: Record<string, unknown>; layout: WeightsLayout }> {
  const seed = mixSeed(c.seed, 2);
  const model = c.model.kind === 'builtin' && c.model.name === '2nn' ? createMnist2nn({ seed }) : createMnistCnn({ seed });
  const s = serializeModel(model);
  model.dispose();
  return { initialWeights: s.weights, topology: s.topology, layout: s.layout };
}
