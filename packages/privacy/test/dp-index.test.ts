import { describe, expect, it } from 'vitest';
import * as dp from '../src/dp/index.js';

describe('@fedkit/privacy/dp public API', () => {
  it('exports the wrappers, mods, config validation and guards', () => {
    for (const name of [
      'withCentralDp',
      'withDistributedDp',
      'withAdaptiveClipping',
      'adaptiveNoiseSplit',
      'combinedNoiseMultiplier',
      'nextClipNorm',
      'noisedUnclippedFraction',
      'applyMods',
      'clipMod',
      'localDpMod',
      'distributedDpMod',
      'validateDpConfig',
      'assertProductionRandom',
      'assertRandomSource',
      'resolveRandom',
      'adaptiveSplitOf',
      'secureSumVector',
      'noisedUnclippedShare',
      'appendCountCoordinate',
      'splitCountCoordinate',
      'assertCountCoordinateFits',
    ]) {
      expect(typeof (dp as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(dp.DP_CONFIG_KEYS).toEqual({ mode: 'dpMode', clipNorm: 'clipNorm', noiseMultiplier: 'noiseMultiplier', expectedClients: 'expectedClients', clippedCountStddev: 'clippedCountStddev' });
    expect(dp.COUNT_COORDINATES).toBe(1);
    expect(dp.UNCLIPPED_METRIC).toBe('dpUnclipped');
    expect(dp.DP_MODES).toEqual(['none', 'local', 'central', 'distributed']);
    expect(dp.ADAPTIVE_CLIPPING_DEFAULTS).toMatchObject({ initialClipNorm: 0.1, targetQuantile: 0.5, clipLearningRate: 0.2 });
  });
});
