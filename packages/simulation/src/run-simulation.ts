/**
 * `runSimulation`: a whole simulated federation in this process. The real FederationServer
 * listens on loopback; K virtual clients (real FedkitClients over real sockets) are spread
 * over a pool of worker threads, one per core; each round's model is evaluated centrally on
 * the test set. The strategy, DP and secure aggregation are the server's own, configured as
 * in production (server-settings.ts). Seeded sampling, model init, partition, shuffling,
 * faults, attacks and DP noise (the server's `allowSeededRandom`, simulation only), plus the
 * server's client-id fold order, make the same config give bit-identical weights on the same
 * machine. That holds in sync mode without churn or stragglers; with churn, and in async mode
 * (`mode: 'async'`, the server's FedBuff), the seeds fix every client's timeline, delays and
 * data, but which client trains on which version depends on wall-clock timing, so runs are
 * comparable, not bit-identical. Results go to a run directory (see run-output.ts), each
 * round or model version with its wall-clock time since training started.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { initNodeBackend } from '@fedkit/client-node';
import { seededRandomSource } from '@fedkit/protocol';
import { FederationServer, createLogger, type RoundMetrics } from '@fedkit/server';
import { openDataSource } from './client-data.js';
import type { ResolvedSimulationConfig } from './config.js';
import { centralEvaluator, initialModel } from './model-init.js';
import { reportedPrivacy, type ReportedPrivacy } from './privacy-report.js';
import { roundsToTarget } from './rounds-to-target.js';
import { RunDirectory, accuracyPoints } from './run-output.js';
import { SEED_PURPOSE, mixSeed } from './seeds.js';
import { serverOptionsFor } from './server-settings.js';
import { WorkerPool } from './worker-pool.js';
import type { SimWorkerData } from './worker-messages.js';

export interface SimulationProgress {
  round: number;
  /** Training jobs finished this round, and clients selected. */
  done: number;
  selected: number;
}

export interface RunSimulationOptions {
  /** Where to write the run directory. @default runs/simulate-<time> */
  runDir?: string;
  /** Called after every round attempt, with the best accuracy so far. */
  onRound?: (metrics: RoundMetrics, info: { bestAccuracy: number | null; elapsedMs: number }) => void;
  onProgress?: (progress: SimulationProgress) => void;
  /** Stops the simulation (the run directory keeps the rounds done so far). */
  signal?: AbortSignal;
  /** pino level of the server's logs. @default 'silent' */
  logLevel?: string;
  onLog?: (level: 'warn' | 'error', message: string) => void;
  /** Called with the server once it listens (status, HTTP API, or tests that cut connections). */
  onServer?: (server: FederationServer) => void;
  /** Test hook: the first worker crashes when it starts a job of this round. */
  crashWorkerAtRound?: number;
}

export interface SimulationResult {
  /** Rounds completed. */
  rounds: number;
  finalAccuracy: number | null;
  target: number | null;
  /** Interpolated rounds to the target (paper convention); null when not reached. */
  roundsToTarget: number | null;
  runDir: string;
  reason: string;
  history: RoundMetrics[];
  /** The final global weights. */
  weights: Float32Array;
  workers: number;
  workerReplacements: number;
  /** Peak resident set size of this process (all threads), bytes. */
  peakRssBytes: number;
  elapsedMs: number;
  /** ε spent (at δ) after the last completed round, from the server's accountant; null without DP. */
  privacy: ReportedPrivacy | null;
}

/**
 * Runs the simulation described by a resolved config (see `resolveSimulationConfig`).
 *
 * @example
 * const config = await loadSimulationConfig('examples/simulations/mcmahan-2nn-iid.json');
 * const result = await runSimulation(config, { onRound: (m) => console.log(m.round, m.accuracy) });
 */
export async function runSimulation(config: ResolvedSimulationConfig, options: RunSimulationOptions = {}): Promise<SimulationResult> {
  const started = Date.now();
  await initNodeBackend({});
  const source = await openDataSource(config.dataset, config.partition, config.clients, config.seed);
  const test = await source.testData();
  const sizes = await source.clientSizes();
  const model = await initialModel(config.model, mixSeed(config.seed, SEED_PURPOSE.model), test.xShape, test.numClasses);
  const evaluator = await centralEvaluator(model, test, config.evaluation.batchSize);
  const target = config.targetAccuracy;
  // Built before any output or worker, so the server's own checks (secure-aggregation
  // parameters against the model, DP combinations) fail before any training.
  let server: FederationServer;
  try {
    server = new FederationServer({
      ...serverOptionsFor(config),
      model,
      // One seeded stream for sampling, the server's DP noise and its secure-aggregation draws.
      random: seededRandomSource(mixSeed(config.seed, SEED_PURPOSE.sampling)),
      allowSeededRandom: true,
      logger: createLogger(options.logLevel ?? 'silent'),
      // Every `evaluation.every` rounds (async: versions), and always the last one planned.
      centralEvaluate: (weights, round) => (round % config.evaluation.every === 0 || round >= config.rounds ? evaluator.evaluate(weights) : Promise.resolve(null)),
    });
  } catch (error) {
    evaluator.dispose();
    throw error;
  }
  const runDir = new RunDirectory(resolve(options.runDir ?? defaultRunDir()));
  await runDir.writeConfig(config);
  const port = await server.listen(0, '127.0.0.1');
  options.onServer?.(server);

  const numWorkers = Math.min(config.workers ?? availableParallelism(), config.clients);
  let progress: SimulationProgress = { round: 0, done: 0, selected: 0 };
  const pool = new WorkerPool(new URL('./sim-worker.js', import.meta.url), {
    onJobDone: () => {
      progress = { ...progress, done: progress.done + 1 };
      options.onProgress?.(progress);
    },
    ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
  });
  const topology = model.topology!;
  const workerData: SimWorkerData[] = Array.from({ length: numWorkers }, (_, w) => ({
    workerIndex: w,
    serverUrl: `http://127.0.0.1:${port}`,
    hosted: sizes.map((_, i) => i).filter((i) => i % numWorkers === w),
    numExamples: sizes,
    numClients: config.clients,
    seed: config.seed,
    dataset: config.dataset,
    partition: config.partition,
    topology,
    layout: model.layout,
    faults: config.faults,
    churn: config.churn,
    attack: config.attack,
    crashAtRound: w === 0 ? (options.crashWorkerAtRound ?? null) : null,
  }));

  const lr = (round: number): number => config.train.learningRate * config.train.learningRateDecay ** (round - 1);
  const title = runTitle(config);
  let writes = Promise.resolve();
  let best: number | null = null;
  const bufferSize = config.async?.bufferSize as number | undefined;
  server.on('stage', (stage) => {
    if (stage !== 'training' || (bufferSize !== undefined && progress.round > 0)) return;
    // Async mode: the version being built and its K updates (jobs finished count towards it).
    const round = bufferSize === undefined ? (server.status().round as number) : server.modelVersion + 1;
    progress = { round, done: 0, selected: bufferSize ?? Math.max(config.minClients, Math.ceil(config.fraction * config.clients)) };
    options.onProgress?.(progress);
  });
  server.on('round', (metrics) => {
    if (bufferSize !== undefined) progress = { round: metrics.round + 1, done: 0, selected: bufferSize };
    if (metrics.accuracy !== undefined) best = Math.max(best ?? 0, metrics.accuracy);
    const history = server.roundHistory();
    writes = writes.then(() => runDir.writeRounds(history, title, target, lr, config.mode)).catch(() => undefined);
    options.onRound?.(metrics, { bestAccuracy: best, elapsedMs: Date.now() - started });
  });
  const abort = (): void => void server.close('stopped');
  options.signal?.addEventListener('abort', abort, { once: true });
  if (options.signal?.aborted) abort();

  pool.start(workerData);
  let summary;
  try {
    if (config.churn !== null) {
      // Every client joins first (so the first sample is the seed's), then churn starts
      // together with training: time 0 of every timeline is the start of the first round.
      await allJoined(server, config.clients, options.signal);
      pool.broadcast({ kind: 'churn-start', epochMs: Date.now() });
    }
    summary = await server.run();
  } finally {
    options.signal?.removeEventListener('abort', abort);
    await pool.stop();
    await server.close();
    evaluator.dispose();
  }
  await writes;
  const weights = server.currentWeights();
  const history = summary.rounds;
  const evaluated = accuracyPoints(history);
  const reached = target === undefined ? null : roundsToTarget(evaluated, target);
  await runDir.writeRounds(history, title, target, lr, config.mode);
  const modelPath = await runDir.writeModel(model, weights);
  const result: SimulationResult = {
    rounds: summary.roundsCompleted,
    // The last evaluated round (with evaluation.every > 1 the very last one may not be).
    finalAccuracy: summary.finalAccuracy ?? evaluated.at(-1)?.accuracy ?? null,
    target: target ?? null,
    roundsToTarget: reached,
    runDir: runDir.path,
    reason: summary.message,
    history,
    weights,
    workers: numWorkers,
    workerReplacements: pool.replacements,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    elapsedMs: Date.now() - started,
    privacy: reportedPrivacy(history.filter((r) => r.status === 'completed').at(-1)),
  };
  const { history: _h, weights: _w, ...brief } = result;
  await runDir.writeSummary({ ...brief, modelPath, bestAccuracy: best });
  return result;
}

/** Resolves once `clients` clients have joined (or at once when aborted). */
async function allJoined(server: FederationServer, clients: number, signal: AbortSignal | undefined): Promise<void> {
  while (server.status().clients.total < clients && signal?.aborted !== true) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        server.off('client-joined', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      server.on('client-joined', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

function runTitle(config: ResolvedSimulationConfig): string {
  const model = config.model.kind === 'path' ? 'model.json' : config.model.name;
  const sampling = config.mode === 'async' ? `FedBuff K=${String(config.async?.bufferSize)}` : `C=${config.fraction}`;
  const churn = config.churn === null ? '' : ` · churn ${config.churn.offlineFraction}`;
  return `${model} · ${config.partition.kind} · ${config.mode} · clients=${config.clients} ${sampling} E=${config.train.epochs} B=${config.train.batchSize ?? '∞'} η=${config.train.learningRate}${churn}`;
}

function defaultRunDir(date = new Date()): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `runs/simulate-${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}
