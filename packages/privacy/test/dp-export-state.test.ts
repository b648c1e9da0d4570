/**
 * A DP wrapper's exportState carries its own state (the adaptive clip) and the wrapped
 * strategy's (FedAdam's moments), so a server persisting one object restores both.
 */
import { fedAdam, fedAvg, type TrainReply } from '@fedkit/aggregation';
import { seededRandomSource, type WeightsLayout } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { withAdaptiveClipping } from '../src/dp/adaptive-clipping.js';
import { withCentralDp } from '../src/dp/fixed-clipping.js';

const layout: WeightsLayout = [{ name: 'w', shape: [3] }];
const replies: TrainReply[] = [
  { clientId: 'a', numExamples: 1, update: Float32Array.from([1, 0, 0]), metrics: {} },
  { clientId: 'b', numExamples: 1, update: Float32Array.from([0.01, 0.02, 0]), metrics: {} },
];

function round(strategy: ReturnType<typeof withCentralDp>, r: number): Float32Array {
  const acc = strategy.beginTrain(r, new Float32Array(3), layout);
  for (const reply of replies) acc.add(reply);
  return strategy.aggregateTrain(r, acc, [])!.weights;
}

describe('DP wrapper exportState / importState', () => {
  it('restores the adaptive clip and the inner FedAdam moments together', () => {
    const make = () => withAdaptiveClipping(fedAdam(), { noiseMultiplier: 0, expectedClients: 2, random: seededRandomSource(1) });
    const original = make();
    round(original, 1);
    const state = JSON.parse(JSON.stringify(original.exportState!())) as { kind: string; inner: { steps: number } };
    expect(state.kind).toBe('dp-wrapped');
    expect(state.inner.steps).toBe(1);
    const restored = make();
    restored.importState!(state);
    expect(restored.clipNorm).toBe(original.clipNorm);
    expect(restored.exportState!()).toEqual(original.exportState!());
    expect(round(restored, 2)).toEqual(round(original, 2));
  });

  it('has no inner state over a stateless strategy, and refuses a foreign object', () => {
    const dp = withCentralDp(fedAvg(), { clipNorm: 1, noiseMultiplier: 0, expectedClients: 2, random: seededRandomSource(1) });
    expect(dp.exportState!()).toMatchObject({ kind: 'dp-wrapped', inner: null });
    expect(() => dp.importState!({ kind: 'server-opt-strategy' })).toThrow(expect.objectContaining({ code: 'config-invalid' }));
    expect(() => dp.importState!({ kind: 'dp-wrapped', wrapper: dp.toJSON(), inner: { kind: 'x' } })).toThrow(expect.objectContaining({ code: 'config-invalid' }));
  });
});
