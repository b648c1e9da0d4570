/** Shared fixtures of the simulation's end-to-end tests: a small seeded synthetic federation. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSimulationConfig, runSimulation, type SimulationConfigInput, type SimulationResult } from '@fedkit/simulation';

export const small: SimulationConfigInput = {
  clients: 20,
  fraction: 0.5,
  dataset: { name: 'synthetic', numExamples: 1000, testExamples: 300, numFeatures: 20, numClasses: 4 },
  model: 'linear',
  rounds: 3,
  train: { epochs: 1, batchSize: 10, learningRate: 0.1 },
  seed: 7,
  workers: 2,
};

export async function run(input: SimulationConfigInput, extra: Parameters<typeof runSimulation>[1] = {}): Promise<SimulationResult> {
  const runDir = await mkdtemp(join(tmpdir(), 'fedkit-sim-'));
  return runSimulation(await resolveSimulationConfig(input), { runDir, ...extra });
}

export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

export function distance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}
