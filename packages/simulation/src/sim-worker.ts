/**
 * A simulation worker thread: it hosts the sessions of its share of the virtual clients and
 * owns ONE TrainingEngine (tfjs wasm runs one thread per worker), which trains whatever job
 * the main thread's scheduler sends, one at a time. A client's rows are loaded for its job
 * and dropped after it. This file is the worker's entry point (side effects on import).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TrainingEngine, proximalOption } from '@fedkit/client-core';
import { initNodeBackend } from '@fedkit/client-node';
import { FedkitError, type WireTrainConfig } from '@fedkit/protocol';
import { openDataSource } from './client-data.js';
import { SEED_PURPOSE, derivedRandom } from './seeds.js';
import { startVirtualClient, type VirtualClient } from './virtual-client.js';
import type { JobOutcome, MainToWorker, SimWorkerData, TrainJob, WorkerToMain } from './worker-messages.js';

const data = workerData as SimWorkerData;
const port = parentPort!;
const post = (message: WorkerToMain, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

await initNodeBackend({ log: (message) => post({ kind: 'log', level: 'warn', message }) });
const engine = await TrainingEngine.fromTopology(data.topology, data.layout);
const source = await openDataSource(data.dataset, data.partition, data.numClients, data.seed);

let nextJobId = 1;
const waiting = new Map<number, (outcome: JobOutcome) => void>();

function submit(clientIndex: number, round: number, config: WireTrainConfig, weights: Float32Array, signal: AbortSignal): Promise<JobOutcome> {
  const jobId = data.workerIndex * 1e9 + nextJobId++;
  const copy = weights.slice();
  return new Promise((resolve) => {
    // A client that disconnects (churn, drop-out) while its job waits gives its slot back.
    const cancel = (): void => post({ kind: 'cancel', jobId });
    signal.addEventListener('abort', cancel, { once: true });
    waiting.set(jobId, (outcome) => {
      signal.removeEventListener('abort', cancel);
      resolve(outcome);
    });
    post({ kind: 'job', job: { jobId, clientIndex, round, config, weights: copy } }, [copy.buffer as ArrayBuffer]);
  });
}

async function runJob(job: TrainJob): Promise<JobOutcome> {
  if (data.crashAtRound !== null && job.round >= data.crashAtRound) {
    // Test hook: an uncaught error ends this thread, as a native crash would.
    setImmediate(() => {
      throw new Error(`injected crash of simulation worker ${data.workerIndex} in round ${job.round}`);
    });
    return new Promise(() => undefined);
  }
  try {
    const local = await source.clientData(job.clientIndex);
    engine.setWeights(job.weights);
    const result = await engine.train(local, {
      epochs: job.config.epochs,
      batchSize: job.config.batchSize,
      learningRate: job.config.learningRate,
      // FedProx's μ, as the production engine trainer reads it from the train config.
      ...proximalOption(job.config),
      random: derivedRandom(data.seed, SEED_PURPOSE.shuffle, job.clientIndex, job.round),
    });
    return { ok: true, update: result.update, numExamples: result.numExamples, metrics: { ...result.metrics } };
  } catch (error) {
    const code = error instanceof FedkitError ? error.code : 'training-failed';
    return { ok: false, code, message: (error as Error).message };
  }
}

const clients: VirtualClient[] = data.hosted.map((index) => startVirtualClient(index, data, submit));

port.on('message', (message: MainToWorker) => {
  if (message.kind === 'run') {
    void runJob(message.job).then((outcome) => {
      post({ kind: 'job-done', jobId: message.job.jobId, outcome }, outcome.ok ? [outcome.update.buffer as ArrayBuffer] : []);
    });
  } else if (message.kind === 'result') {
    const resolve = waiting.get(message.jobId);
    waiting.delete(message.jobId);
    resolve?.(message.outcome);
  } else if (message.kind === 'churn-start') {
    for (const c of clients) c.startChurn(message.epochMs);
  } else if (message.kind === 'stop') {
    for (const c of clients) c.stop();
    engine.dispose();
    port.close();
  }
});
post({ kind: 'ready' });
