/**
 * One demo client in a worker thread: it receives only its own partition from the parent,
 * sets up its own tfjs backend and joins the server over a real socket, exactly as a
 * separate `fedkit client` process would.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { LocalDataset } from '@fedkit/client-core';
import { startNodeClient } from '@fedkit/client-node';

export interface DemoWorkerData {
  serverUrl: string;
  clientId: string;
  backend: 'wasm' | 'cpu';
  train: LocalDataset;
  test: LocalDataset;
}

export type DemoWorkerMessage =
  | { kind: 'ready'; backend: string; reason: string }
  | { kind: 'trained'; round: number; samplesPerSec: number }
  | { kind: 'warn'; message: string }
  | { kind: 'finished'; reason: string };

const data = workerData as DemoWorkerData;
const post = (message: DemoWorkerMessage): void => parentPort?.postMessage(message);

const node = await startNodeClient({
  serverUrl: data.serverUrl,
  clientId: data.clientId,
  backend: data.backend,
  train: data.train,
  test: data.test,
  log: (level, message) => {
    if (level === 'warn' || level === 'error') post({ kind: 'warn', message: `[${data.clientId}] ${message}` });
  },
});
post({ kind: 'ready', backend: node.backend, reason: node.backendReason });
node.client.on('train-done', ({ round, metrics }) => post({ kind: 'trained', round, samplesPerSec: metrics.samplesPerSec ?? 0 }));
parentPort?.on('message', (message: unknown) => {
  if (message === 'stop') node.stop();
});
const finished = await node.finished.catch((error: Error) => ({ reason: `error: ${error.message}` }));
post({ kind: 'finished', reason: finished.reason });
