import { FedkitError, type WeightsLayout } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { fedAvg } from '../src/fedavg.js';
import { wasmSimdAvailable } from '../src/kernels/weighted-accumulate.js';
import type { TrainReply } from '../src/strategy.js';
import { describeStrategy } from './conformance.js';

describeStrategy('fedAvg', () => fedAvg());
describeStrategy('fedAvg, JS kernel', () => fedAvg({ kernel: 'js' }));

const LAYOUT: WeightsLayout = [{ name: 'w', shape: [5] }];

function reply(clientId: string, numExamples: number, update: number[], metrics: Record<string, number> = {}): TrainReply {
  return { clientId, numExamples, update: Float32Array.from(update), metrics };
}

describe('fedAvg', () => {
  it('computes global + Σ (n_k / m) Δ_k (known answer, by hand)', () => {
    // Prepare: m = 1 + 3 = 4; Σ n_k Δ_k = [1, 12, 0, -12, 8]; / 4 = [0.25, 3, 0, -3, 2].
    const global = Float32Array.from([1, 2, 3, 4, 5]);
    const strategy = fedAvg();
    const accumulator = strategy.beginTrain(1, global, LAYOUT);
    // Execute
    accumulator.add(reply('a', 1, [1, 0, 0, 0, 2], { loss: 2, accuracy: 0.5 }));
    accumulator.add(reply('b', 3, [0, 4, 0, -4, 2], { loss: 1, accuracy: 0.9 }));
    const result = strategy.aggregateTrain(1, accumulator, []);
    // Assert
    expect(result?.weights).toEqual(Float32Array.from([1.25, 5, 3, 1, 7]));
    expect(result?.metrics.loss).toBe(1.25);
    expect(result?.metrics.accuracy).toBeCloseTo((0.5 + 3 * 0.9) / 4, 12);
    expect(result?.metrics.numClients).toBe(2);
    expect(result?.metrics.numExamples).toBe(4);
  });

  it('averages each metric over the clients that reported it', () => {
    const strategy = fedAvg();
    const accumulator = strategy.beginTrain(1, new Float32Array(5), LAYOUT);
    accumulator.add(reply('a', 1, [0, 0, 0, 0, 0], { loss: 4, trainMs: 10 }));
    accumulator.add(reply('b', 3, [0, 0, 0, 0, 0], { loss: 2 }));
    accumulator.add(reply('c', 2, [0, 0, 0, 0, 0], { loss: Number.NaN }));
    const metrics = strategy.aggregateTrain(1, accumulator, [])?.metrics;
    expect(metrics).toEqual({ loss: 2.5, trainMs: 10, numClients: 3, numExamples: 6 });
  });

  it('returns null with fewer than minReplies replies', () => {
    const strategy = fedAvg({ minReplies: 3 });
    const accumulator = strategy.beginTrain(1, new Float32Array(5), LAYOUT);
    accumulator.add(reply('a', 1, [1, 1, 1, 1, 1]));
    accumulator.add(reply('b', 1, [1, 1, 1, 1, 1]));
    expect(strategy.aggregateTrain(1, accumulator, [])).toBeNull();
  });

  it('returns null when the replies hold no examples', () => {
    const strategy = fedAvg();
    const accumulator = strategy.beginTrain(1, new Float32Array(5), LAYOUT);
    accumulator.add(reply('a', 0, [1, 1, 1, 1, 1]));
    expect(strategy.aggregateTrain(1, accumulator, [])).toBeNull();
  });

  it('rejects a negative or fractional example count', () => {
    const accumulator = fedAvg().beginTrain(1, new Float32Array(5), LAYOUT);
    expect(() => accumulator.add(reply('a', -1, [0, 0, 0, 0, 0]))).toThrow(RangeError);
    expect(() => accumulator.add(reply('a', 1.5, [0, 0, 0, 0, 0]))).toThrow(/numExamples.*1\.5/);
    expect(accumulator.count).toBe(0);
  });

  it('rejects a malformed reply without folding any of it', () => {
    const strategy = fedAvg();
    const accumulator = strategy.beginTrain(1, new Float32Array(5), LAYOUT);
    const bad = { ...reply('a', 1, [9, 9, 9, 9, 9]), metrics: null as unknown as Record<string, number> };
    expect(() => accumulator.add(bad)).toThrow(TypeError);
    expect(() => accumulator.add({ ...bad, metrics: {}, update: [1, 1, 1, 1, 1] as unknown as Float32Array })).toThrow(TypeError);
    accumulator.add(reply('b', 1, [1, 1, 1, 1, 1]));
    expect(accumulator.count).toBe(1);
    expect(strategy.aggregateTrain(1, accumulator, [])?.weights).toEqual(new Float32Array(5).fill(1));
  });

  it('names the client and both sizes when an update has the wrong size', () => {
    const accumulator = fedAvg().beginTrain(1, new Float32Array(5), LAYOUT);
    expect(() => accumulator.add(reply('c7', 1, [0, 0, 0]))).toThrow('update from client "c7" has 3 floats, the model has 5');
  });

  it('rejects global weights that do not match the layout', () => {
    expect(() => fedAvg().beginTrain(1, new Float32Array(4), LAYOUT)).toThrow(FedkitError);
  });

  it('closes the round once aggregated', () => {
    const strategy = fedAvg();
    const accumulator = strategy.beginTrain(2, new Float32Array(5), LAYOUT);
    accumulator.add(reply('a', 1, [1, 1, 1, 1, 1]));
    expect(() => strategy.aggregateTrain(3, accumulator, [])).toThrow(RangeError);
    expect(strategy.aggregateTrain(2, accumulator, [])).not.toBeNull();
    expect(() => accumulator.add(reply('b', 1, [1, 1, 1, 1, 1]))).toThrow(expect.objectContaining({ code: 'round-closed' }));
    expect(() => strategy.aggregateTrain(2, accumulator, [])).toThrow(expect.objectContaining({ code: 'round-closed' }));
  });

  it('rejects an accumulator from another strategy', () => {
    const foreign = { add: () => undefined, count: 1, totalWeight: 1 };
    expect(() => fedAvg().aggregateTrain(1, foreign, [])).toThrow(TypeError);
  });

  it('returns copies of the base configs', () => {
    const strategy = fedAvg();
    const train = { epochs: 5, batchSize: null, learningRate: 0.1 };
    const evaluate = { batchSize: 100 };
    expect(strategy.configureTrain(1, train)).toEqual(train);
    expect(strategy.configureTrain(1, train)).not.toBe(train);
    expect(strategy.configureEvaluate(1, evaluate)).toEqual(evaluate);
    expect(strategy.configureEvaluate(1, evaluate)).not.toBe(evaluate);
  });

  it('summarises evaluation replies with no examples as null', () => {
    expect(fedAvg().aggregateEvaluate(1, [{ clientId: 'a', numExamples: 0, loss: Number.NaN, accuracy: 0 }], [])).toBeNull();
  });

  it.runIf(wasmSimdAvailable())('gives bit-identical weights with the wasm and JS kernels', () => {
    const size = 1003;
    const layout: WeightsLayout = [{ name: 'w', shape: [size] }];
    const global = Float32Array.from({ length: size }, (_, i) => Math.sin(i));
    const run = (kernel: 'wasm-simd' | 'js'): Float32Array | undefined => {
      const strategy = fedAvg({ kernel });
      const accumulator = strategy.beginTrain(1, global, layout);
      for (let k = 0; k < 5; k++) {
        accumulator.add({ clientId: `c${k}`, numExamples: 17 + k * 101, update: global.map((g, i) => Math.cos(g * (k + 1) + i) * 0.01), metrics: {} });
      }
      return strategy.aggregateTrain(1, accumulator, [])?.weights;
    };
    expect(run('wasm-simd')).toEqual(run('js'));
  });
});

describe('fedAvg options', () => {
  it('rejects out-of-range values with a RangeError naming the option', () => {
    expect(() => fedAvg({ minReplies: 0 })).toThrow(/minReplies/);
    expect(() => fedAvg({ minReplies: 0 })).toThrow(RangeError);
    expect(() => fedAvg({ minReplies: 2.5 })).toThrow(RangeError);
  });

  it('rejects wrong types and unknown options with a TypeError', () => {
    expect(() => fedAvg({ minReplies: '2' as unknown as number })).toThrow(TypeError);
    expect(() => fedAvg({ kernel: 'gpu' as unknown as 'js' })).toThrow(/kernel/);
    expect(() => fedAvg({ minReply: 2 } as unknown as object)).toThrow(/no option "minReply"/);
    expect(() => fedAvg(null as unknown as object)).toThrow(TypeError);
  });
});
