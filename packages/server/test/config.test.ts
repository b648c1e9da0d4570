import { describe, expect, it } from 'vitest';
import { resolveServerOptions } from '../src/config.js';

describe('resolveServerOptions', () => {
  it('fills every default', () => {
    expect(resolveServerOptions({})).toEqual({
      mode: 'sync',
      rounds: 10,
      minClients: 2,
      sampling: { fraction: 1, minFit: 1, overSelection: 1 },
      roundDeadlineMs: 120_000,
      foldOrder: 'arrival',
      encryptUpdates: false,
      maxRoundAttempts: 5,
      privacy: { mode: 'none', clipNorm: null, noiseMultiplier: 0, expectedClients: null, adaptiveClipping: null, budget: null },
      strategy: { name: 'fedavg' },
      train: { epochs: 1, batchSize: 10, learningRate: 0.1, learningRateDecay: 1 },
      evaluate: { every: 1, fraction: 1, batchSize: 100, deadlineMs: 60_000 },
      transfer: { maxChunkBytes: 524_288, timeoutMs: 60_000 },
      connectionLimits: { messagesPerSecond: 200, messageBurst: 400, bytesPerSecond: 64 * 1024 * 1024, byteBurst: 256 * 1024 * 1024, maxViolations: 100 },
    });
  });

  it.each([
    [{ rounds: 0 }, 'field "rounds"'],
    [{ sampling: { fraction: 0 } }, 'field "sampling.fraction": must be > 0 and <= 1'],
    [{ sampling: { fraction: 1.01 } }, 'field "sampling.fraction": must be > 0 and <= 1'],
    [{ train: { batchSize: 0 } }, 'field "train.batchSize"'],
    [{ train: { learningRate: Number.NaN } }, 'field "train.learningRate"'],
    [{ evaluate: { every: -1 } }, 'field "evaluate.every"'],
    [{ transfer: { maxChunkBytes: 100 } }, 'field "transfer.maxChunkBytes"'],
    [{ roundDeadline: 5 }, 'unknown field(s) "roundDeadline"'],
    [{ minClients: 2, sampling: { minFit: 5 } }, '"sampling.minFit" (5) must not exceed "minClients" (2)'],
    [{ targetAccuracy: 1.5 }, 'field "targetAccuracy"'],
    [{ strategy: { name: 'fedfoo' } }, 'unknown strategy "fedfoo"; allowed: fedavg, fedavgm, fedadam, fedyogi, fedadagrad, fedprox'],
    [{ strategy: { name: 'fedadam', beta1: 1.5 } }, 'field "strategy.beta1"'],
    [{ strategy: { name: 'fedprox' } }, 'strategy'],
    [{ secureAggregation: { enabled: true, threshold: 0 } }, 'field "secureAggregation.threshold"'],
    [{ secureAggregation: { enabled: true, quantization: { bits: 8 } } }, 'field "secureAggregation.quantization"'],
    [{ privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 } }, 'needs secure aggregation'],
    [{ privacy: { mode: 'central', noiseMultiplier: 0.3, expectedClients: 6, adaptiveClipping: true }, secureAggregation: { enabled: true } }, 'field "privacy.mode": "central" clips (and, with adaptiveClipping, counts) each update on the server, but secure aggregation shows the server only the masked sum'],
    [{ privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 0.3, expectedClients: 6 }, secureAggregation: { enabled: true } }, 'field "privacy.mode": "central" clips'],
    [{ privacy: { mode: 'local', clipNorm: 1, noiseMultiplier: 0.3, adaptiveClipping: true } }, 'field "privacy.adaptiveClipping": is only for modes "central" and "distributed"'],
    [
      { privacy: { mode: 'distributed', noiseMultiplier: 0.3, expectedClients: 6, adaptiveClipping: true }, secureAggregation: { enabled: true, quantization: { maxWeight: 1, clippingRange: 1 } } },
      'field "secureAggregation.quantization.clippingRange": clippingRange 1 (with maxWeight 1) keeps values of a weight-1 client within ±1.000, but the clipped-count coordinate of adaptive clipping needs ±1.980',
    ],
    [
      { privacy: { mode: 'distributed', noiseMultiplier: 0.3, expectedClients: 6, adaptiveClipping: true }, secureAggregation: { enabled: true, quantization: { maxWeight: 1e9 } } },
      'field "secureAggregation.quantization.maxWeight": maxWeight 1000000000 makes the weight 1 of distributed DP quantize to 0',
    ],
    [{ sampling: { overSelection: 0.9 } }, 'field "sampling.overSelection"'],
    [{ sampling: { overSelection: 1.3 }, secureAggregation: { enabled: true } }, 'field "sampling.overSelection": not available with secure aggregation'],
    [{ auth: { federationId: 'f' } }, 'field "auth.secretFile": token authentication needs a secret file or a dataDir'],
    [{ auth: { federationId: 'f', tokens: false } }, 'list at least one client key'],
    [{ auth: { federationId: 'bad id', dataDir: 'x' } }, 'field "auth.federationId"'],
    [{ cors: { origins: [] } }, 'field "cors.origins"'],
    [{ connectionLimits: { messagesPerSecond: 0 } }, 'field "connectionLimits.messagesPerSecond"'],
    [{ tls: { certFile: 'a' } }, 'field "tls.keyFile"'],
  ])('rejects %j naming the field', (input, message) => {
    expect(() => resolveServerOptions(input)).toThrow(message);
  });

  it('accepts adaptive clipping under distributed DP with secure aggregation (the count fits Flower\'s quantization)', () => {
    const options = resolveServerOptions({ privacy: { mode: 'distributed', noiseMultiplier: 0.3, expectedClients: 6, adaptiveClipping: { targetQuantile: 0.7 } }, secureAggregation: { enabled: true } });
    expect(options.privacy).toMatchObject({ mode: 'distributed', adaptiveClipping: { targetQuantile: 0.7 } });
  });

  it('accepts B = ∞ as null', () => {
    expect(resolveServerOptions({ train: { batchSize: null } }).train.batchSize).toBeNull();
  });
});
