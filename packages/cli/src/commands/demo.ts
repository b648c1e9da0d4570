/**
 * `fedkit demo` (`pnpm start`): the main job. A real local federation on this machine: the
 * server in this process and N Node clients in worker threads, each holding only its own
 * partition of MNIST, training over real sockets on loopback, with a live progress line and
 * per-round metrics written to a JSON file.
 */
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { partition, subsetDataset } from '@fedkit/client-core';
import { initNodeBackend, loadMnist } from '@fedkit/client-node';
import { seededRandomSource } from '@fedkit/protocol';
import { FederationServer, createLogger, saveTfjsModel } from '@fedkit/server';
import { enumFlag, helpText, intFlag, numberFlag, parseFlags, type CommandSpec } from '../args.js';
import { createCentralEvaluator } from '../central-evaluation.js';
import { loadConfigFile, parseConfig } from '../config-file.js';
import { DEMO_CONFIG } from '../demo-defaults.js';
import type { DemoWorkerData, DemoWorkerMessage } from '../demo-worker.js';
import { resolveModel } from '../model-source.js';
import { printJsonSummary, timestampedName, writeJsonAtomic } from '../output.js';
import { partitionFlag } from '../partition-flag.js';
import { ProgressDisplay } from '../progress.js';

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'Run a local federation: a server and Node clients (worker threads) training the 2NN on MNIST.',
  usage: 'fedkit demo [--clients N] [--rounds N] [--target ACC] [--partition SPEC] [--backend wasm|cpu] [--config FILE] [--out FILE] [--json]',
  flags: {
    clients: { value: 'N', description: 'number of clients', default: '10' },
    rounds: { value: 'N', description: 'rounds to run (overrides the config)', default: '5' },
    target: { value: 'ACC', description: 'stop once test accuracy reaches ACC, in (0, 1]' },
    partition: { value: 'SPEC', description: 'iid, shards or dirichlet:ALPHA', default: 'iid' },
    backend: { value: 'wasm|cpu', description: 'tfjs backend of the clients', default: 'wasm' },
    config: { value: 'FILE', description: 'server config to use instead of the embedded default (examples/mnist-2nn/fedkit.config.json)' },
    out: { value: 'FILE', description: 'where to write per-round metrics', default: 'runs/demo-<time>/metrics.json' },
    port: { value: 'N', description: 'server port; 0 picks a free one', default: '0' },
    seed: { value: 'N', description: 'seed of the data partition', default: '0' },
  },
};

export async function runDemoCommand(argv: string[]): Promise<number> {
  const values = parseFlags(demoCommand, argv);
  if (values.help) {
    process.stdout.write(helpText(demoCommand));
    return 0;
  }
  const numClients = intFlag(values, 'clients', { min: 1, max: 200, fallback: 10 })!;
  const backend = enumFlag(values, 'backend', ['wasm', 'cpu'] as const, 'wasm')!;
  const port = intFlag(values, 'port', { min: 0, max: 65535, fallback: 0 })!;
  const seed = intFlag(values, 'seed', { min: 0, fallback: 0 })!;
  const target = numberFlag(values, 'target', (n) => n > 0 && n <= 1, 'a number in (0, 1]');
  const { text: partitionText, spec: partitionSpec } = partitionFlag(values);
  const config = typeof values.config === 'string' ? await loadConfigFile(values.config) : parseConfig(DEMO_CONFIG, 'embedded demo config');
  const rounds = intFlag(values, 'rounds', { min: 1, fallback: config.federation.rounds })!;
  const runDir = resolve('runs', timestampedName('demo'));
  const metricsPath = typeof values.out === 'string' ? resolve(values.out) : join(runDir, 'metrics.json');
  const json = values.json === true;
  const started = Date.now();

  await initNodeBackend({});
  const model = await resolveModel(config.model);
  const evaluator = config.centralEvaluation === null ? null : await createCentralEvaluator(model, config.centralEvaluation);
  const server = new FederationServer({
    ...config.federationInput,
    rounds,
    minClients: numClients,
    sampling: { ...config.federation.sampling, minFit: Math.min(config.federation.sampling.minFit, numClients) },
    ...(target === undefined ? {} : { targetAccuracy: target }),
    model,
    logger: createLogger(process.env.FEDKIT_LOG_LEVEL ?? 'error'),
    ...(evaluator === null ? {} : { centralEvaluate: (weights: Float32Array) => evaluator.evaluate(weights) }),
  });
  const boundPort = await server.listen(port, '127.0.0.1');
  const serverUrl = `http://127.0.0.1:${boundPort}`;
  const progress = new ProgressDisplay(process.stdout, rounds);
  progress.print(`fedkit demo: server on ${serverUrl} · ${numClients} clients · ${partitionText} MNIST · ${model.weights.length.toLocaleString('en-US')} parameters · up to ${rounds} rounds`);

  // Partition once here and hand each worker only its own part.
  const trainSet = await loadMnist({ split: 'train' });
  const testSet = await loadMnist({ split: 'test' });
  const trainParts = partition(trainSet.y, partitionSpec, numClients, seededRandomSource(seed));
  const testParts = partition(testSet.y, { kind: 'iid' }, numClients, seededRandomSource(seed));
  const workers: Worker[] = [];
  let trainedThisRound = 0;
  for (let i = 0; i < numClients; i++) {
    const data: DemoWorkerData = {
      serverUrl,
      clientId: `demo-${i}`,
      backend,
      train: subsetDataset(trainSet, trainParts[i]!),
      test: subsetDataset(testSet, testParts[i]!),
    };
    const worker = new Worker(new URL('../demo-worker.js', import.meta.url), {
      workerData: data,
      transferList: [data.train.x.buffer, data.train.y.buffer, data.test.x.buffer, data.test.y.buffer] as ArrayBuffer[],
    });
    worker.on('message', (message: DemoWorkerMessage) => {
      if (message.kind === 'trained') progress.update({ done: ++trainedThisRound });
      else if (message.kind === 'warn') progress.print(message.message);
    });
    worker.on('error', (error) => progress.print(`client demo-${i} crashed: ${error.message}`));
    workers.push(worker);
  }

  server.on('stage', (stage) => {
    if (stage === 'training') {
      trainedThisRound = 0;
      progress.update({ stage, round: server.status().round, selected: numClients, done: 0 });
    } else progress.update({ stage });
  });
  server.on('round', (metrics) => {
    progress.round(metrics);
    void writeJsonAtomic(metricsPath, { rounds: server.roundHistory() });
  });
  const stop = (): void => void server.close('stopped');
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  let summary;
  let modelPath: string;
  try {
    summary = await server.run();
    progress.finish();
    await writeJsonAtomic(metricsPath, { rounds: summary.rounds });
    modelPath = await saveTfjsModel(join(resolve(metricsPath, '..'), 'model'), server.modelDefinition());
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    await server.close();
    evaluator?.dispose();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }

  const elapsedMs = Date.now() - started;
  const accuracy = summary.finalAccuracy === null ? 'n/a' : `${(summary.finalAccuracy * 100).toFixed(2)}%`;
  progress.print(`${summary.message}: test accuracy ${accuracy} after ${summary.roundsCompleted} rounds in ${(elapsedMs / 1000).toFixed(1)} s`);
  progress.print(`per-round metrics: ${metricsPath}`);
  progress.print(`final model (tfjs format): ${modelPath}`);
  printJsonSummary(json, {
    command: 'demo',
    clients: numClients,
    rounds: summary.roundsCompleted,
    finalAccuracy: summary.finalAccuracy,
    elapsedMs,
    metricsPath,
    modelPath,
  });
  return summary.reason === 'completed' ? 0 : 1;
}
