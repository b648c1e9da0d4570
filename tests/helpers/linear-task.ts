/**
 * A synthetic learning task for end-to-end tests that must see a model learn without tfjs:
 * linear regression y = Wᵀx + b with 3 inputs and 2 outputs, exactly the layout of
 * `tinyModel` (dense/kernel [3, 2] row-major, then dense/bias [2]). Each client holds its
 * own noisy samples from one true (W*, b*) and trains by full-batch gradient descent on the
 * mean squared error; `linearEvaluate` scores a model on a held-out set. Data come from a
 * seeded source, so each test's data are fixed.
 */
import type { LocalTrainer } from '@fedkit/client-core';
import { seededRandomSource, type RandomSource } from '@fedkit/protocol';

const IN = 3;
const OUT = 2;
export const TRUE_WEIGHTS = Float32Array.from([1.5, -2, 0.5, 1, -1, 2, 0.3, -0.7]);

interface Sample {
  x: number[];
  y: number[];
}

function uniform(random: RandomSource): number {
  const word = new Uint32Array(1);
  random.fillBytes(new Uint8Array(word.buffer));
  return word[0]! / 2 ** 32;
}

function predict(w: ArrayLike<number>, x: readonly number[], j: number): number {
  let s = w[IN * OUT + j]!;
  for (let i = 0; i < IN; i++) s += x[i]! * w[i * OUT + j]!;
  return s;
}

export function linearSamples(seed: number, n: number, noise = 0.05): Sample[] {
  const random = seededRandomSource(seed);
  const samples: Sample[] = [];
  for (let k = 0; k < n; k++) {
    const x = Array.from({ length: IN }, () => uniform(random) * 2 - 1);
    const y = Array.from({ length: OUT }, (_, j) => predict(TRUE_WEIGHTS, x, j) + (uniform(random) * 2 - 1) * noise);
    samples.push({ x, y });
  }
  return samples;
}

/** Mean squared error over the outputs, and the fraction of samples predicted within 0.2 on every output. */
export function linearEvaluate(weights: ArrayLike<number>, samples: readonly Sample[]): { loss: number; accuracy: number; numExamples: number } {
  let squared = 0;
  let close = 0;
  for (const { x, y } of samples) {
    let ok = true;
    for (let j = 0; j < OUT; j++) {
      const err = predict(weights, x, j) - y[j]!;
      squared += err * err;
      if (Math.abs(err) > 0.2) ok = false;
    }
    if (ok) close++;
  }
  return { loss: squared / (samples.length * OUT), accuracy: close / samples.length, numExamples: samples.length };
}

/**
 * A client of the linear task: `epochs` full-batch gradient steps at the config's learning
 * rate, after waiting `delayMs` (how slow this client is). Records the rounds it trained.
 */
export function linearTrainer(seed: number, options: { numExamples?: number; delayMs?: number; numEvalExamples?: number } = {}): LocalTrainer & { rounds: number[] } {
  const data = linearSamples(seed, options.numExamples ?? 40);
  const held = linearSamples(seed + 1000, options.numEvalExamples ?? 0);
  const rounds: number[] = [];
  return {
    rounds,
    numExamples: data.length,
    numEvalExamples: held.length,
    async prepare() {},
    async train(global, config, { round, signal }) {
      rounds.push(round);
      if ((options.delayMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      signal.throwIfAborted();
      const w = Float64Array.from(global);
      for (let epoch = 0; epoch < config.epochs; epoch++) {
        const grad = new Float64Array(w.length);
        for (const { x, y } of data) {
          for (let j = 0; j < OUT; j++) {
            const err = predict(w, x, j) - y[j]!;
            for (let i = 0; i < IN; i++) grad[i * OUT + j]! += (2 * err * x[i]!) / data.length;
            grad[IN * OUT + j]! += (2 * err) / data.length;
          }
        }
        for (let p = 0; p < w.length; p++) w[p]! -= config.learningRate * grad[p]!;
      }
      const update = Float32Array.from(w, (v, p) => v - global[p]!);
      return { update, numExamples: data.length, metrics: { loss: linearEvaluate(w, data).loss } };
    },
    async evaluate(global) {
      return linearEvaluate(global, held);
    },
  };
}
