/**
 * Byzantine-robust strategies need each client's own update, so the server refuses them at
 * config time together with secure aggregation (the server learns only the masked sum) or
 * central/distributed DP (the strategy is handed one noised mean), naming the field.
 */
import { describe, expect, it } from 'vitest';
import { resolveServerOptions } from '../src/config.js';

const SECAGG = { secureAggregation: { enabled: true } };
const CENTRAL = { privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 10 } };

describe('resolveServerOptions with robust strategies', () => {
  it.each(['fedmedian', 'fedtrimmedavg', 'krum', 'bulyan'])('refuses %s under secure aggregation', (name) => {
    const resolve = (): unknown => resolveServerOptions({ ...SECAGG, strategy: { name } });
    expect(resolve).toThrow(expect.objectContaining({ code: 'config-invalid' }));
    expect(resolve).toThrow(`server options: field "strategy.name": "${name}" needs every client's own update and cannot run with secureAggregation`);
  });

  it('refuses norm bounding and Multi-Krum under central DP', () => {
    expect(() => resolveServerOptions({ ...CENTRAL, strategy: { name: 'normbound', maxNorm: 1 } })).toThrow(/"normbound" .* privacy mode "central"/);
    expect(() => resolveServerOptions({ ...CENTRAL, strategy: { name: 'multikrum', numClientsToKeep: 3 } })).toThrow(/field "strategy.name"/);
  });

  it('accepts them without secure aggregation, and FedAvg with secure aggregation', () => {
    expect(resolveServerOptions({ strategy: { name: 'krum', numMaliciousClients: 1 } }).strategy).toEqual({ name: 'krum', numMaliciousClients: 1 });
    expect(resolveServerOptions({ secureAggregation: { enabled: false }, strategy: { name: 'fedmedian' } }).strategy.name).toBe('fedmedian');
    expect(resolveServerOptions({ ...SECAGG, strategy: { name: 'fedavg' } }).strategy.name).toBe('fedavg');
  });
});
