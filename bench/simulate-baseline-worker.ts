/**
 * One thread of bench/simulate.ts's bare-tfjs baseline: trains the MNIST partitions it is
 * given, one after another, from the same initial weights on one TrainingEngine, and posts
 * the engine time of each (ms). No server, sockets or simulation code: only what a virtual
 * client's local training costs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TrainingEngine } from '../packages/client-core/dist/index.js';
import type { PartitionSpec } from '../packages/client-core/dist/index.js';
import { initNodeBackend, loadMnistPartition } from '../packages/client-node/dist/index.js';
import { seededRandomSource, type WeightsLayout } from '../packages/protocol/dist/index.js';

export interface BaselineJob {
  clientIndices: number[];
  numClients: number;
  partition: PartitionSpec;
  partitionSeed: number;
  topology: Record<string, unknown>;
  layout: WeightsLayout;
  initialWeights: Float32Array;
  epochs: number;
  batchSize: number | null;
  learningRate: number;
}

const job = workerData as BaselineJob;
await initNodeBackend({});
const engine = await TrainingEngine.fromTopology(job.topology, job.layout);
const trainMs: number[] = [];
for (const index of job.clientIndices) {
  const data = await loadMnistPartition({ split: 'train', partition: job.partition, numClients: job.numClients, index, seed: job.partitionSeed });
  engine.setWeights(job.initialWeights);
  const started = performance.now();
  await engine.train(data, { epochs: job.epochs, batchSize: job.batchSize, learningRate: job.learningRate, random: seededRandomSource(index) });
  trainMs.push(performance.now() - started);
}
engine.dispose();
parentPort!.postMessage(trainMs);
