/**
 * Small helpers for the server-optimizer tests: run one training round through a strategy's
 * verbs, and build replies from plain number arrays.
 */
import type { WeightsLayout } from '@fedkit/protocol';
import { expect } from 'vitest';
import type { Strategy, TrainReply } from '../src/strategy.js';

export function reply(clientId: string, numExamples: number, update: readonly number[], metrics: Record<string, number> = {}): TrainReply {
  return { clientId, numExamples, update: Float32Array.from(update), metrics };
}

export function flatLayout(size: number): WeightsLayout {
  return [{ name: 'w', shape: [size] }];
}

/** Runs round `round` from `global` with `replies`; throws if the strategy returns null. */
export function runRound(strategy: Strategy, round: number, global: Float32Array, replies: readonly TrainReply[]): Float32Array {
  const accumulator = strategy.beginTrain(round, global, flatLayout(global.length));
  for (const r of replies) accumulator.add(r);
  const result = strategy.aggregateTrain(round, accumulator, []);
  if (result === null) throw new Error(`round ${round} returned null`);
  return result.weights;
}

/** Runs consecutive rounds from `initial`, one list of replies per round; returns each round's weights. */
export function runRounds(strategy: Strategy, initial: readonly number[], rounds: readonly (readonly TrainReply[])[]): Float32Array[] {
  const out: Float32Array[] = [];
  let global: Float32Array = Float32Array.from(initial);
  rounds.forEach((replies, k) => {
    global = runRound(strategy, k + 1, global, replies);
    out.push(global);
  });
  return out;
}

/** Asserts `actual` equals `expected` element-wise to `digits` decimal places. */
export function expectCloseTo(actual: Float32Array, expected: readonly number[], digits: number): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]!, `element ${i}`).toBeCloseTo(e, digits));
}
