/**
 * The Strategy interface's optional exportState/importState: every stateful strategy of the
 * registry round-trips through JSON text and continues exactly; stateless ones have none.
 */
import { describe, expect, it } from 'vitest';
import { createStrategy } from '../src/registry.js';
import { withNormBound } from '../src/robust/norm-bound.js';
import { reply, runRound } from './server-opt-harness.js';

const ROUNDS = [[reply('a', 2, [0.5, -0.2, 1e-7]), reply('b', 1, [0.1, 0.3, -2e-7])], [reply('a', 4, [-0.3, 0.25, 0])], [reply('c', 6, [0.02, -0.05, 1e-3])]];

describe('Strategy exportState / importState', () => {
  it.each(['fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const)('%s: JSON text round trip continues exactly', (name) => {
    const spec = name === 'fedavgm' ? { name, momentum: 0.9 } : { name };
    const original = createStrategy(spec);
    let global: Float32Array = Float32Array.from([0.3, -1, 2]);
    global = runRound(original, 1, global, ROUNDS[0]!);
    global = runRound(original, 2, global, ROUNDS[1]!);
    const text = JSON.stringify(original.exportState!());
    const restored = createStrategy(spec);
    restored.importState!(JSON.parse(text));
    expect(restored.exportState!()).toEqual(original.exportState!());
    expect(runRound(restored, 3, global, ROUNDS[2]!)).toEqual(runRound(original, 3, global, ROUNDS[2]!));
  });

  it('a norm-bound wrapper passes the wrapped strategy\'s state through', () => {
    const original = withNormBound(createStrategy({ name: 'fedadam' }), { maxNorm: 0.5 });
    runRound(original, 1, Float32Array.from([0, 0, 0]), ROUNDS[0]!);
    const restored = withNormBound(createStrategy({ name: 'fedadam' }), { maxNorm: 0.5 });
    restored.importState!(JSON.parse(JSON.stringify(original.exportState!())));
    expect(restored.exportState!()).toEqual(original.exportState!());
    expect(withNormBound(createStrategy({ name: 'fedavg' }), { maxNorm: 1 }).exportState).toBeUndefined();
  });

  it('refuses a foreign state with config-invalid and keeps its own', () => {
    const adam = createStrategy({ name: 'fedadam' });
    runRound(adam, 1, Float32Array.from([0, 0, 0]), ROUNDS[0]!);
    const before = adam.exportState!();
    const yogi = createStrategy({ name: 'fedyogi' });
    expect(() => adam.importState!(yogi.exportState!())).toThrow(expect.objectContaining({ code: 'config-invalid' }));
    expect(adam.exportState!()).toEqual(before);
  });

  it.each([{ name: 'fedavg' }, { name: 'fedprox', proximalMu: 0.1 }] as const)('$name keeps no state between rounds', (spec) => {
    const strategy = createStrategy(spec);
    expect(strategy.exportState).toBeUndefined();
    expect(strategy.importState).toBeUndefined();
  });
});
