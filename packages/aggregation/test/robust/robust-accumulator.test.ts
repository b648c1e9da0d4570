/**
 * The robust strategies' shared bookkeeping (robust-accumulator.ts, robust-strategy.ts):
 * the checks on replies, rounds and accumulators, run once through fedMedian since every
 * robust strategy shares the code.
 */
import { FedkitError } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { fedAvg } from '../../src/fedavg.js';
import { fedMedian } from '../../src/robust/fedmedian.js';
import { krum } from '../../src/robust/krum.js';
import { RobustAccumulator } from '../../src/robust/robust-accumulator.js';
import { createRowStore, robustKernelModule } from '../../src/robust/row-store.js';
import { flatLayout, reply } from '../server-opt-harness.js';

describe('robust accumulator', () => {
  it('rejects a malformed reply without keeping any of it', () => {
    const strategy = fedMedian();
    const accumulator = strategy.beginTrain(1, new Float32Array(3), flatLayout(3));
    expect(() => accumulator.add(reply('a', -1, [1, 1, 1]))).toThrow(RangeError);
    expect(() => accumulator.add({ ...reply('a', 1, [1, 1, 1]), update: [1, 1, 1] as unknown as Float32Array })).toThrow(TypeError);
    expect(() => accumulator.add({ ...reply('a', 1, [1, 1, 1]), metrics: null as unknown as Record<string, number> })).toThrow(TypeError);
    expect(() => accumulator.add(reply('c7', 1, [1, 1]))).toThrow('update from client "c7" has 2 floats, the model has 3');
    expect(accumulator.count).toBe(0);
    accumulator.add(reply('a', 1, [1, 2, 3]));
    expect(() => accumulator.add(reply('a', 1, [9, 9, 9]))).toThrow(expect.objectContaining({ code: 'duplicate-update' }));
    expect(accumulator.count).toBe(1);
    expect(Array.from(strategy.aggregateTrain(1, accumulator, [])!.weights)).toEqual([1, 2, 3]);
  });

  it('rejects global weights that do not match the layout', () => {
    expect(() => fedMedian().beginTrain(1, new Float32Array(4), flatLayout(3))).toThrow(expect.objectContaining({ code: 'weights-layout-invalid' }));
    expect(() => fedMedian().beginTrain(1, [0, 0, 0] as unknown as Float32Array, flatLayout(3))).toThrow(TypeError);
  });

  it('closes the round once aggregated, and refuses another round or strategy', () => {
    const strategy = krum();
    const accumulator = strategy.beginTrain(2, new Float32Array(1), flatLayout(1));
    for (const id of ['a', 'b', 'c']) accumulator.add(reply(id, 1, [1]));
    expect(() => strategy.aggregateTrain(3, accumulator, [])).toThrow(RangeError);
    expect(() => krum().aggregateTrain(2, accumulator, [])).toThrow(/not created by krum\(\)\.beginTrain/);
    expect(() => strategy.aggregateTrain(2, fedAvg().beginTrain(2, new Float32Array(1), flatLayout(1)), [])).toThrow(TypeError);
    expect(strategy.aggregateTrain(2, accumulator, [])).not.toBeNull();
    expect(() => accumulator.add(reply('d', 1, [1]))).toThrow(expect.objectContaining({ code: 'round-closed' }));
    expect(() => strategy.aggregateTrain(2, accumulator, [])).toThrow(FedkitError);
  });
});

describe.runIf(robustKernelModule() !== null)('rounds too big for one wasm memory', () => {
  // 10,000 floats a row (40 KB) against a 2-page (128 KiB) cap: the fourth row does not fit.
  const rows = [0, 1, 2, 3].map((k) => Float32Array.from({ length: 10_000 }, (_, i) => k + i * 1e-4));

  it('kernel "wasm-simd" refuses them with backend-unavailable, saying to use kernel "js"', () => {
    const store = createRowStore(10_000, 'wasm-simd', 2 * 65536);
    for (const row of rows.slice(0, 3)) store.add(row);
    expect(() => store.add(rows[3]!)).toThrow(expect.objectContaining({ code: 'backend-unavailable' }));
    expect(() => store.add(rows[3]!)).toThrow(/4 updates of 10000 floats do not fit in one WebAssembly memory \(131072 bytes\); use kernel "js"/);
  });

  it('kernel "auto" moves the round to plain JS rows and carries on with the same result', () => {
    const accumulator = new RobustAccumulator({}, 1, new Float32Array(10_000), 'auto', 2 * 65536);
    rows.forEach((update, k) => accumulator.add(reply(`c${k}`, 1, Array.from(update))));
    expect(accumulator.store?.kernel).toBe('js');
    expect(accumulator.count).toBe(4);
    const median = accumulator.store!.reduceColumns({ kind: 'ranks', from: 1, to: 3, scale: 0.5 });
    expect(median[0]).toBe(1.5);
    expect(Array.from(accumulator.store!.row(3))).toEqual(Array.from(rows[3]!));
  });
});
