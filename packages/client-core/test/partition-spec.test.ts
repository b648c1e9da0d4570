import { FedkitError } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';

import { parsePartitionSpec, resolvePartitionSpec, type PartitionSpec } from '../src/data/partition-spec.js';

describe('parsePartitionSpec', () => {
  it.each<[string, PartitionSpec]>([
    ['iid', { kind: 'iid' }],
    ['shards', { kind: 'shards' }],
    ['shards:3', { kind: 'shards', shardsPerClient: 3 }],
    ['dirichlet:0.5', { kind: 'dirichlet', alpha: 0.5 }],
    ['dirichlet:1e-2', { kind: 'dirichlet', alpha: 0.01 }],
    ['dirichlet:.3', { kind: 'dirichlet', alpha: 0.3 }],
    [' dirichlet:100 ', { kind: 'dirichlet', alpha: 100 }],
  ])('parses %j', (text, spec) => {
    expect(parsePartitionSpec(text)).toEqual(spec);
  });

  it.each([
    ['noniid', /partition "noniid" is not a known partition; expected iid, shards, shards:<shardsPerClient> or dirichlet:<alpha>/],
    ['', /is not a known partition; expected iid, shards/],
    ['iid:2', /takes no argument/],
    ['shards:0', /shardsPerClient must be an integer ≥ 1, got 0/],
    ['shards:two', /shardsPerClient "two", which is not a positive integer/],
    ['shards:1.5', /not a positive integer/],
    ['dirichlet', /needs an alpha; expected iid, shards/],
    ['dirichlet:', /needs an alpha/],
    ['dirichlet:abc', /alpha "abc", which is not a number > 0/],
    ['dirichlet:-1', /alpha "-1", which is not a number > 0/],
    ['dirichlet:0', /alpha must be a finite number > 0, got 0/],
    ['dirichlet:0x10', /not a number > 0/],
    ['dirichlet:0.5:10', /has too many ":" parts/],
  ])('rejects %j with config-invalid', (text, message) => {
    try {
      parsePartitionSpec(text);
      throw new Error('did not throw');
    } catch (error) {
      expect(error).toBeInstanceOf(FedkitError);
      expect((error as FedkitError).code).toBe('config-invalid');
      expect((error as FedkitError).message).toMatch(message);
    }
  });
});

describe('resolvePartitionSpec', () => {
  it('fills in the documented defaults', () => {
    expect(resolvePartitionSpec({ kind: 'iid' })).toEqual({ kind: 'iid' });
    expect(resolvePartitionSpec({ kind: 'shards' })).toEqual({ kind: 'shards', shardsPerClient: 2 });
    expect(resolvePartitionSpec({ kind: 'dirichlet', alpha: 0.5 })).toEqual({ kind: 'dirichlet', alpha: 0.5, minExamples: 1, maxAttempts: 100 });
  });

  it('rejects a missing or unknown kind, listing the allowed values', () => {
    expect(() => resolvePartitionSpec(null as unknown as PartitionSpec)).toThrow(/kind must be one of iid, shards, dirichlet, got undefined/);
    expect(() => resolvePartitionSpec({} as PartitionSpec)).toThrow(/got undefined/);
  });

  it('records the bad field in details', () => {
    let caught: unknown;
    try {
      resolvePartitionSpec({ kind: 'shards', shardsPerClient: 2.5 });
    } catch (error) {
      caught = error;
    }
    expect((caught as FedkitError).details).toEqual({ field: 'shardsPerClient', value: 2.5 });
  });
});
