/**
 * The conformance suite every strategy must pass, as every tfjs backend re-runs core's op
 * suite (STYLE §16b). Run it from a strategy's own test file:
 *
 *     describeStrategy('fedAvg', () => fedAvg());
 *
 * It checks the contract of `Strategy` (strategy.ts), not one strategy's maths: those get
 * their own known-answer tests. Strategies that add noise pass a `tolerance`; strategies
 * that ignore example counts pass `weighted: false`.
 */
import { FedkitError, seededRandomSource, shuffled, type WeightsLayout } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import type { EvaluateReply, Strategy, TrainConfig, TrainReply } from '../src/strategy.js';

export interface ConformanceOptions {
  /** Whether the strategy weights replies by `numExamples`. @default true */
  weighted?: boolean;
  /** Largest absolute difference tolerated between weights that should be equal. @default 1e-5 */
  tolerance?: number;
}

const LAYOUT: WeightsLayout = [
  { name: 'dense/kernel', shape: [7, 5] },
  { name: 'dense/bias', shape: [5] },
  { name: 'out/kernel', shape: [5, 3] },
];
const SIZE = 7 * 5 + 5 + 5 * 3; // 55: not a multiple of 4, so kernels' tails run too
const BASE_TRAIN: TrainConfig = { epochs: 1, batchSize: 10, learningRate: 0.1 };

function randomVector(seed: number, scale: number): Float32Array {
  const random = seededRandomSource(seed);
  return Float32Array.from({ length: SIZE }, () => (random.nextFloat() * 2 - 1) * scale);
}

function reply(clientId: string, numExamples: number, update: Float32Array, loss = 1): TrainReply {
  return Object.freeze({ clientId, numExamples, update, metrics: Object.freeze({ loss }) });
}

/** Runs one training round through the strategy's four verbs' training half. */
function aggregate(strategy: Strategy, global: Float32Array, replies: readonly TrainReply[], round = 1): Float32Array | null {
  const accumulator = strategy.beginTrain(round, global, LAYOUT);
  for (const r of replies) accumulator.add(r);
  return strategy.aggregateTrain(round, accumulator, [])?.weights ?? null;
}

function expectClose(actual: Float32Array | null, expected: Float32Array, tolerance: number): void {
  expect(actual).not.toBeNull();
  expect(actual!.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual![i]! - expected[i]!));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

/** Registers the conformance tests for the strategy that `makeStrategy` builds, fresh per test. */
export function describeStrategy(name: string, makeStrategy: () => Strategy, options: ConformanceOptions = {}): void {
  const weighted = options.weighted ?? true;
  const tolerance = options.tolerance ?? 1e-5;

  describe(`Strategy conformance: ${name}`, () => {
    it('leaves the model unchanged when every update is zero', () => {
      // Prepare
      const global = randomVector(1, 1);
      const zero = new Float32Array(SIZE);
      const replies = [reply('a', 10, zero), reply('b', 30, zero.slice()), reply('c', 1, zero.slice())];
      // Execute
      const result = aggregate(makeStrategy(), global, replies);
      // Assert
      expectClose(result, global, tolerance);
    });

    it('moves the model by the update when every client sends the same update', () => {
      const global = randomVector(2, 1);
      const update = randomVector(3, 0.1);
      const replies = [reply('a', 7, update), reply('b', 600, update.slice()), reply('c', 33, update.slice())];
      const result = aggregate(makeStrategy(), global, replies);
      expectClose(result, global.map((g, i) => g + update[i]!), tolerance);
    });

    it('does not depend on the order replies arrive in', () => {
      const global = randomVector(4, 1);
      const replies = Array.from({ length: 9 }, (_, k) => reply(`c${k}`, 10 + 17 * k, randomVector(100 + k, 0.1)));
      const first = aggregate(makeStrategy(), global, replies);
      const second = aggregate(makeStrategy(), global, shuffled(seededRandomSource(5), replies));
      expect(first).not.toBeNull();
      expectClose(second, first!, tolerance);
    });

    if (weighted) {
      it('weights each reply by its number of examples', () => {
        // One reply with 3n examples must count as three replies with n examples each.
        const global = randomVector(6, 1);
        const a = randomVector(7, 0.1);
        const b = randomVector(8, 0.1);
        const heavy = aggregate(makeStrategy(), global, [reply('a', 5, a), reply('b', 15, b)]);
        const repeated = aggregate(makeStrategy(), global, [reply('a', 5, a), reply('b1', 5, b), reply('b2', 5, b), reply('b3', 5, b)]);
        expect(heavy).not.toBeNull();
        expectClose(repeated, heavy!, tolerance);
        expectClose(heavy, global.map((g, i) => g + (a[i]! + 3 * b[i]!) / 4), tolerance);
      });

      it('gives a reply with zero examples no influence', () => {
        const global = randomVector(9, 1);
        const a = randomVector(10, 0.1);
        const without = aggregate(makeStrategy(), global, [reply('a', 12, a)]);
        const withZero = aggregate(makeStrategy(), global, [reply('a', 12, a), reply('z', 0, randomVector(11, 10))]);
        expect(without).not.toBeNull();
        expectClose(withZero, without!, tolerance);
      });
    } else {
      it('ignores example counts: every reply weighs the same', () => {
        // Three replies, not two: Krum needs n ≥ 2f + 3 even with f = 0.
        const global = randomVector(6, 1);
        const a = randomVector(7, 0.1);
        const b = randomVector(8, 0.1);
        const c = randomVector(20, 0.1);
        const one = aggregate(makeStrategy(), global, [reply('a', 5, a), reply('b', 15, b), reply('c', 1, c)]);
        const other = aggregate(makeStrategy(), global, [reply('a', 50, a), reply('b', 1, b), reply('c', 7, c)]);
        expect(one).not.toBeNull();
        expectClose(other, one!, tolerance);
      });
    }

    it('mutates neither the global weights nor the updates, and returns a fresh array', () => {
      const global = randomVector(12, 1);
      const updates = [randomVector(13, 0.1), randomVector(14, 0.1), randomVector(21, 0.1)];
      const globalBefore = global.slice();
      const updatesBefore = updates.map((u) => u.slice());
      const result = aggregate(makeStrategy(), global, [reply('a', 3, updates[0]!), reply('b', 4, updates[1]!), reply('c', 5, updates[2]!)]);
      expect(result).not.toBeNull();
      expect(result).not.toBe(global);
      expect(global).toEqual(globalBefore);
      updates.forEach((u, k) => expect(u).toEqual(updatesBefore[k]));
    });

    it('returns null when no reply was folded', () => {
      const strategy = makeStrategy();
      const accumulator = strategy.beginTrain(1, randomVector(15, 1), LAYOUT);
      expect(accumulator.count).toBe(0);
      expect(strategy.aggregateTrain(1, accumulator, [{ clientId: 'a', code: 'deadline-exceeded', message: 'late' }])).toBeNull();
    });

    it('counts folded replies and their weight', () => {
      const accumulator = makeStrategy().beginTrain(1, randomVector(16, 1), LAYOUT);
      accumulator.add(reply('a', 3, randomVector(17, 0.1)));
      accumulator.add(reply('b', 4, randomVector(18, 0.1)));
      expect(accumulator.count).toBe(2);
      if (weighted) expect(accumulator.totalWeight).toBe(7);
    });

    it('rejects an update whose size differs from the model', () => {
      const accumulator = makeStrategy().beginTrain(1, randomVector(19, 1), LAYOUT);
      const add = (): void => accumulator.add(reply('a', 3, new Float32Array(SIZE - 1)));
      expect(add).toThrow(FedkitError);
      expect(add).toThrow(expect.objectContaining({ code: 'update-size-mismatch' }));
    });

    it('does not mutate the base train config', () => {
      const base = { ...BASE_TRAIN };
      const config = makeStrategy().configureTrain(1, base);
      expect(base).toEqual(BASE_TRAIN);
      if (config !== null) expect(config).not.toBe(base);
    });

    it('weights evaluation results by examples', () => {
      const replies: EvaluateReply[] = [
        { clientId: 'a', numExamples: 1, loss: 1, accuracy: 0.5 },
        { clientId: 'b', numExamples: 3, loss: 2, accuracy: 1 },
      ];
      const summary = makeStrategy().aggregateEvaluate(1, replies, []);
      expect(summary).toEqual({ loss: 1.75, accuracy: 0.875, numExamples: 4, numClients: 2 });
    });

    it('summarises no evaluation replies as null', () => {
      expect(makeStrategy().aggregateEvaluate(1, [], [])).toBeNull();
    });
  });
}
