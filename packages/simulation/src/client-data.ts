/**
 * Where a virtual client's data comes from. Every process computes the same partition from
 * the same seed, so the main thread (for the clients' sizes) and each worker (for the rows
 * it trains on) agree without sending data around. A worker materializes a client's rows
 * only for the job at hand and lets them go afterwards, which keeps K = 1,000 in memory.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { partition, subsetDataset, syntheticDataset, type LocalDataset, type ResolvedPartitionSpec } from '@fedkit/client-core';
import { loadMnist, loadMnistPartition, mnistDataDir, parseIdx } from '@fedkit/client-node';
import { seededRandomSource } from '@fedkit/protocol';
import type { DatasetConfig } from './config.js';
import { SEED_PURPOSE, mixSeed } from './seeds.js';

export interface DataSource {
  /** Examples held by each client, by index (computed from the labels only). */
  clientSizes(): Promise<number[]>;
  /** The rows of client `index` (a fresh copy the caller may drop). */
  clientData(index: number): Promise<LocalDataset>;
  /** The central test set (only the main thread asks for it). */
  testData(): Promise<LocalDataset>;
}

/** Opens the data of a simulation; `partitionSeed` must be the same in every thread. */
export async function openDataSource(dataset: DatasetConfig, spec: ResolvedPartitionSpec, numClients: number, seed: number): Promise<DataSource> {
  const partitionSeed = mixSeed(seed, SEED_PURPOSE.partition);
  if (dataset.name === 'synthetic') {
    const all = syntheticDataset({
      numExamples: dataset.numExamples + dataset.testExamples,
      numFeatures: dataset.numFeatures,
      numClasses: dataset.numClasses,
      noiseStddev: dataset.noiseStddev,
      random: seededRandomSource(mixSeed(seed, SEED_PURPOSE.data)),
    });
    const train = subsetDataset(all, range(0, dataset.numExamples));
    const parts = partition(train.y, spec, numClients, seededRandomSource(partitionSeed));
    return {
      clientSizes: () => Promise.resolve(parts.map((p) => p.length)),
      clientData: (index) => Promise.resolve(subsetDataset(train, parts[index]!)),
      testData: () => Promise.resolve(subsetDataset(all, range(dataset.numExamples, dataset.numExamples + dataset.testExamples))),
    };
  }
  return {
    async clientSizes() {
      // Labels only: converting all 60,000 images to floats would cost 188 MB for nothing.
      const bytes = await readFile(join(mnistDataDir(), 'train-labels-idx1-ubyte'));
      const labels = parseIdx(bytes, 'train-labels-idx1-ubyte').data;
      const used = dataset.limit === undefined ? labels : labels.subarray(0, dataset.limit);
      return partition(used, spec, numClients, seededRandomSource(partitionSeed)).map((p) => p.length);
    },
    clientData: (index) =>
      loadMnistPartition({
        split: 'train',
        partition: spec,
        numClients,
        index,
        seed: partitionSeed,
        ...(dataset.limit === undefined ? {} : { limit: dataset.limit }),
      }),
    testData: () => loadMnist({ split: 'test', ...(dataset.testLimit === undefined ? {} : { limit: dataset.testLimit }) }),
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
