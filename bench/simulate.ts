/**
 * Harness overhead of `fedkit simulate`: one round of the CNN config (K = 100, C = 0.1: 10
 * clients of 600 MNIST examples) through the real server, sockets and worker pool, against
 * the same work done by bare tfjs in this process in the same run: 10 partitions trained with
 * the same config from the same weights on one TrainingEngine, summed engine time divided by
 * the worker count. ratio = roundMs / trainOnlyMs (target ≤ 1.15). roundMs is the server's
 * round duration (sampling to new model; central evaluation excluded). Also printed: the
 * engine time measured inside the workers (Σ per-client trainMs / workers), which splits
 * the ratio into harness overhead (roundMs / in-worker time) and the slowdown of running
 * the workers side by side (in-worker time / trainOnlyMs: shared cores, SMT siblings).
 *
 * Run: pnpm bench:simulate [-- --epochs N] [-- --workers N] (builds first). Last line: one JSON object.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TrainingEngine, createMnist2nn, createMnistCnn, serializeModel } from '../packages/client-core/dist/index.js';
import { initNodeBackend, loadMnistPartition } from '../packages/client-node/dist/index.js';
import { seededRandomSource, type WeightsLayout } from '../packages/protocol/dist/index.js';
import { loadSimulationConfig, mixSeed, runSimulation } from '../packages/simulation/dist/index.js';

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

// Bare tfjs: the same amount of work (clients × 600 examples × E epochs) on one engine.
await initNodeBackend({});
const { initialWeights, topology, layout } = await initialModelOf(config);
const engine = await TrainingEngine.fromTopology(topology, layout);
let trainMsSum = 0;
for (let i = 0; i < clients; i++) {
  const data = await loadMnistPartition({ split: 'train', partition: config.partition, numClients: config.clients, index: i, seed: mixSeed(config.seed, 3) });
  engine.setWeights(initialWeights);
  const started = performance.now();
  await engine.train(data, { epochs, batchSize: config.train.batchSize, learningRate: config.train.learningRate, random: seededRandomSource(i) });
  trainMsSum += performance.now() - started;
}
engine.dispose();
const trainOnlyMs = trainMsSum / result.workers;
process.stdout.write(`bare tfjs: ${clients} clients, ${trainMsSum.toFixed(0)} ms summed, / ${result.workers} workers = ${trainOnlyMs.toFixed(0)} ms\n`);
// The server's train metrics are example-weighted means; clients hold equal shares here.
const inWorkerMs = ((round.train.trainMs ?? 0) * clients) / result.workers;
process.stdout.write(
  `in workers: ${inWorkerMs.toFixed(0)} ms of engine time per worker · harness overhead ${(round.durationMs / inWorkerMs).toFixed(3)}× · side-by-side slowdown ${(inWorkerMs / trainOnlyMs).toFixed(3)}×\n`,
);
process.stdout.write(
  `${JSON.stringify({
    bench: 'simulate', clients, workers: result.workers, roundMs: round.durationMs, trainOnlyMs: Math.round(trainOnlyMs),
    ratio: Number((round.durationMs / trainOnlyMs).toFixed(3)), epochs, inWorkerTrainMs: Math.round(inWorkerMs),
    overheadRatio: Number((round.durationMs / inWorkerMs).toFixed(3)),
  })}\n`,
);

/** The simulation's seeded initial model (model seed = mixSeed(seed, 2), as in run-simulation.ts). */
async function initialModelOf(c: typeof config): Promise<{ initialWeights: Float32Array; topology: Record<string, unknown>; layout: WeightsLayout }> {
  const seed = mixSeed(c.seed, 2);
  const model = c.model.kind === 'builtin' && c.model.name === '2nn' ? createMnist2nn({ seed }) : createMnistCnn({ seed });
  const s = serializeModel(model);
  model.dispose();
  return { initialWeights: s.weights, topology: s.topology, layout: s.layout };
}
