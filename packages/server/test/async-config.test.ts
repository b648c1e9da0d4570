/**
 * Async mode's options: defaults, and every bad value or bad combination fails at config
 * time with `config-invalid` naming the field.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FedkitError } from '@fedkit/protocol';
import { resolveServerOptions } from '../src/config.js';

const asyncMode = (extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({
  mode: 'async',
  async: { bufferSize: 3, maxStaleness: 4, ...extra },
  ...top,
});

describe('async mode options', () => {
  it('fills the defaults of the async block', () => {
    const options = resolveServerOptions(asyncMode());
    expect(options.mode).toBe('async');
    expect(options.async).toEqual({
      bufferSize: 3,
      maxStaleness: 4,
      staleness: { kind: 'polynomial', exponent: 0.5 },
      staleRefusal: 'refuse',
      maxVersions: 100,
      failureBackoffMs: 1000,
    });
  });

  it('accepts every staleness function, a concurrency, down-weighting and central DP with expectedClients = K', () => {
    expect(resolveServerOptions(asyncMode({ staleness: { kind: 'constant' } })).async!.staleness).toEqual({ kind: 'constant' });
    expect(resolveServerOptions(asyncMode({ staleness: { kind: 'hinge', a: 10, b: 4 }, staleRefusal: 'down-weight', concurrency: 8 })).async).toMatchObject({
      staleness: { kind: 'hinge', a: 10, b: 4 },
      staleRefusal: 'down-weight',
      concurrency: 8,
    });
    const dp = resolveServerOptions(asyncMode({}, { privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 } }));
    expect(dp.privacy.expectedClients).toBe(3);
  });

  it("accepts the README's asynchronous-mode example as written", () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Asynchronous mode'));
    const json = /```json\n([\s\S]*?)```/.exec(section)![1]!;
    const options = resolveServerOptions(JSON.parse(json).federation);
    expect(options).toMatchObject({ mode: 'async', async: { bufferSize: 10, maxStaleness: 20, concurrency: 50, maxVersions: 500 } });
  });

  it.each([
    [asyncMode({ bufferSize: 0 }), 'field "async.bufferSize"'],
    [asyncMode({ bufferSize: 2.5 }), 'field "async.bufferSize"'],
    [asyncMode({ maxStaleness: -1 }), 'field "async.maxStaleness"'],
    [{ mode: 'async', async: { bufferSize: 2 } }, 'field "async.maxStaleness"'],
    [asyncMode({ staleness: { kind: 'exponential' } }), 'field "async.staleness.kind"'],
    [asyncMode({ staleness: { kind: 'polynomial', exponent: -0.5 } }), 'field "async.staleness.exponent"'],
    [asyncMode({ staleness: { kind: 'hinge', a: 0, b: 1 } }), 'field "async.staleness.a"'],
    [asyncMode({ staleness: { kind: 'hinge', a: 1, b: 0.5 } }), 'field "async.staleness.b"'],
    [asyncMode({ concurrency: 0 }), 'field "async.concurrency"'],
    [asyncMode({ staleRefusal: 'ignore' }), 'field "async.staleRefusal"'],
    [asyncMode({ maxVersions: 0 }), 'field "async.maxVersions"'],
    [asyncMode({ bufferSize: 2, buffer: 3 }), 'unknown field(s) "buffer"'],
    [{ mode: 'semi-sync' }, 'field "mode"'],
    [{ mode: 'async' }, `field "async": is required with mode 'async'`],
    [{ async: { bufferSize: 2, maxStaleness: 1 } }, `field "async": only used with mode 'async'`],
    [asyncMode({}, { secureAggregation: { enabled: true } }), 'field "secureAggregation": not available with mode \'async\''],
    [asyncMode({}, { encryptUpdates: true }), 'field "encryptUpdates"'],
    [asyncMode({}, { foldOrder: 'client-id' }), 'field "foldOrder"'],
    [asyncMode({ staleRefusal: 'down-weight', staleness: { kind: 'constant' } }), 'field "async.staleRefusal": \'down-weight\' needs a decreasing staleness function'],
    [asyncMode({ staleRefusal: 'down-weight', staleness: { kind: 'polynomial', exponent: 0 } }), 'field "async.staleRefusal"'],
    [asyncMode({}, { privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 10 } }), 'field "privacy.expectedClients": must equal async.bufferSize (3)'],
    [asyncMode({}, { privacy: { mode: 'central', noiseMultiplier: 0.1, expectedClients: 3, adaptiveClipping: {} } }), 'field "privacy.adaptiveClipping"'],
    [asyncMode({}, { privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 } }), 'needs secure aggregation'],
  ])('rejects %j naming the field', (input, message) => {
    let caught: unknown;
    try {
      resolveServerOptions(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FedkitError);
    expect((caught as FedkitError).code).toBe('config-invalid');
    expect((caught as FedkitError).message).toContain(message);
  });
});
