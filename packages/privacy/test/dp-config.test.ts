import { cryptoRandomSource, FedkitError, seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { adaptiveNoiseSplit } from '../src/dp/adaptive-math.js';
import { adaptiveSplitOf, validateDpConfig } from '../src/dp/dp-config.js';
import { assertProductionRandom, assertRandomSource, resolveRandom } from '../src/dp/random-guard.js';

const SECAGG = { secureAggregation: true };
const PLAIN = { secureAggregation: false };

describe('validateDpConfig: accepted combinations, defaults filled', () => {
  it('mode none', () => {
    expect(validateDpConfig({ mode: 'none' }, PLAIN)).toEqual({
      mode: 'none',
      clipNorm: null,
      noiseMultiplier: 0,
      expectedClients: null,
      adaptiveClipping: null,
      budget: null,
    });
  });

  it('central with a fixed clip and a budget', () => {
    const config = validateDpConfig({ mode: 'central', clipNorm: 1, noiseMultiplier: 1.1, expectedClients: 100, budget: { epsilon: 8, delta: 1e-5 } }, PLAIN);
    expect(config).toEqual({ mode: 'central', clipNorm: 1, noiseMultiplier: 1.1, expectedClients: 100, adaptiveClipping: null, budget: { epsilon: 8, delta: 1e-5 } });
  });

  it('distributed under secure aggregation with adaptive clipping at its defaults', () => {
    const config = validateDpConfig({ mode: 'distributed', noiseMultiplier: 1, expectedClients: 100, adaptiveClipping: true }, SECAGG);
    expect(config.adaptiveClipping).toEqual({ initialClipNorm: 0.1, targetQuantile: 0.5, clipLearningRate: 0.2, clippedCountStddev: null });
    expect(config.clipNorm).toBeNull();
  });

  it('local without expectedClients', () => {
    expect(validateDpConfig({ mode: 'local', clipNorm: 0.5, noiseMultiplier: 3 }, PLAIN)).toMatchObject({ mode: 'local', expectedClients: null });
  });

  it('adaptive options given one by one', () => {
    const config = validateDpConfig(
      { mode: 'central', noiseMultiplier: 0.5, expectedClients: 10, adaptiveClipping: { targetQuantile: 0.8, clippedCountStddev: 1 } },
      PLAIN,
    );
    expect(config.adaptiveClipping).toEqual({ initialClipNorm: 0.1, targetQuantile: 0.8, clipLearningRate: 0.2, clippedCountStddev: 1 });
  });
});

describe('validateDpConfig: rejected combinations name the field', () => {
  it.each([
    [null, 'field "dp": must be an object'],
    [{ mode: 'global' }, 'field "dp.mode": must be one of "none", "local", "central", "distributed", got "global"'],
    [{ mode: 'none', budget: { epsilon: 1, delta: 1e-5 } }, 'field "dp.budget": has no effect when mode is "none"'],
    [{ mode: 'distributed', clipNorm: 1, noiseMultiplier: 1, expectedClients: 10 }, 'field "dp.mode": "distributed" needs secure aggregation'],
    [{ mode: 'central', clipNorm: 0, noiseMultiplier: 1, expectedClients: 10 }, 'field "dp.clipNorm": must be a finite number > 0, got 0'],
    [{ mode: 'central', noiseMultiplier: 1, expectedClients: 10 }, 'field "dp.clipNorm": is required'],
    [{ mode: 'central', clipNorm: 1, noiseMultiplier: -1, expectedClients: 10 }, 'field "dp.noiseMultiplier": must be a finite number ≥ 0, got -1'],
    [{ mode: 'central', clipNorm: 1, expectedClients: 10 }, 'field "dp.noiseMultiplier": is required'],
    [{ mode: 'central', clipNorm: 1, noiseMultiplier: 1 }, 'field "dp.expectedClients": is required'],
    [{ mode: 'local', clipNorm: 1, noiseMultiplier: 1, adaptiveClipping: true }, 'field "dp.adaptiveClipping": is only for modes "central" and "distributed", not "local"'],
    [{ mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 100, adaptiveClipping: true }, 'field "dp.clipNorm": conflicts with adaptiveClipping'],
    [{ mode: 'central', noiseMultiplier: 1, expectedClients: 10, adaptiveClipping: true }, 'field "dp.noiseMultiplier": noiseMultiplier 1 must be below 2·clippedCountStddev = 1'],
    [{ mode: 'central', noiseMultiplier: 1, expectedClients: 100, adaptiveClipping: { targetQuantile: 2 } }, 'field "dp.adaptiveClipping.targetQuantile": must be a number in [0, 1], got 2'],
    [{ mode: 'central', noiseMultiplier: 1, expectedClients: 100, adaptiveClipping: { lr: 2 } }, 'field "dp.adaptiveClipping": unknown field(s) "lr"'],
    [{ mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 10, budget: { epsilon: 8 } }, 'field "dp.budget.delta": is required: an (ε, δ) budget needs δ in (0, 1)'],
    [{ mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 10, budget: { epsilon: 8, delta: 1 } }, 'field "dp.budget.delta": must be a number in (0, 1), got 1'],
    [{ mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 10, budget: { epsilon: 0, delta: 1e-5 } }, 'field "dp.budget.epsilon": must be a finite number > 0, got 0'],
    [{ mode: 'central', clipNorm: '1', noiseMultiplier: 1, expectedClients: 10 }, 'field "dp.clipNorm": must be a finite number > 0, got "1"'],
    [{ mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 10, sigma: 1 }, 'field "dp": unknown field(s) "sigma"'],
  ])('%j → %s', (input, message) => {
    const call = (): unknown => validateDpConfig(input, PLAIN);
    expect(call).toThrow(FedkitError);
    expect(call).toThrow(expect.objectContaining({ code: 'config-invalid' }));
    expect(call).toThrow(message);
  });

  it('under secure aggregation: adaptive clipping runs in mode "distributed"; mode "central", where the server sees no update, is refused', () => {
    const distributed = validateDpConfig({ mode: 'distributed', noiseMultiplier: 0.5, expectedClients: 10, adaptiveClipping: { targetQuantile: 0.3 } }, SECAGG);
    expect(distributed.adaptiveClipping).toMatchObject({ targetQuantile: 0.3 });
    expect(adaptiveSplitOf(distributed)).toEqual(adaptiveNoiseSplit({ noiseMultiplier: 0.5, expectedClients: 10 }));
    expect(adaptiveSplitOf(validateDpConfig({ mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 10 }, PLAIN))).toBeNull();
    for (const central of [{ adaptiveClipping: true }, { clipNorm: 1 }]) {
      expect(() => validateDpConfig({ mode: 'central', noiseMultiplier: 0.5, expectedClients: 10, ...central }, SECAGG)).toThrow(
        expect.objectContaining({ code: 'config-invalid', message: expect.stringMatching(/^field "dp.mode": "central" clips .* only the masked sum: use mode "distributed"/) }),
      );
    }
    // Still checked field by field in distributed mode.
    expect(() => validateDpConfig({ mode: 'distributed', noiseMultiplier: 0.5, expectedClients: 10, adaptiveClipping: { clipLearningRate: 0 } }, SECAGG)).toThrow(
      'field "dp.adaptiveClipping.clipLearningRate": must be a finite number > 0, got 0',
    );
    expect(() => validateDpConfig({ mode: 'distributed', noiseMultiplier: 2, expectedClients: 10, adaptiveClipping: true }, SECAGG)).toThrow('field "dp.noiseMultiplier": noiseMultiplier 2 must be below');
  });

  it('names fields under the prefix the server gives', () => {
    expect(() => validateDpConfig({ mode: 'central' }, { secureAggregation: false, field: 'privacy.dp' })).toThrow('field "privacy.dp.noiseMultiplier"');
  });
});

describe('random source guard', () => {
  it('lets the platform CSPRNG through and stops a seeded source with config-invalid', () => {
    expect(() => assertProductionRandom(cryptoRandomSource())).not.toThrow();
    expect(() => assertProductionRandom(seededRandomSource(1), 'client noise')).toThrow(
      expect.objectContaining({ code: 'config-invalid', message: expect.stringContaining('client noise draws from a "seeded" random source') }),
    );
    expect(() => assertProductionRandom(null as never)).toThrow(FedkitError);
  });

  it('defaults to the CSPRNG and checks what it is given', () => {
    expect(resolveRandom(undefined).kind).toBe('crypto');
    const seeded = seededRandomSource(4);
    expect(resolveRandom(seeded)).toBe(seeded);
    expect(() => assertRandomSource({ kind: 'crypto' })).toThrow(TypeError);
    expect(() => resolveRandom({ nextFloat: Math.random } as never)).toThrow(TypeError);
  });
});
