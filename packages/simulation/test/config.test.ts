import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSimulationConfig, registerStrategy, resolveSimulationConfig } from '@fedkit/simulation';
import { fedAvg } from '@fedkit/aggregation';

const base = { clients: 10, dataset: 'mnist', model: '2nn' };

async function failure(input: unknown): Promise<{ code: string; message: string }> {
  try {
    await resolveSimulationConfig(input);
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected the config to be refused');
}

describe('simulation config validation', () => {
  it('fills defaults for a minimal config', async () => {
    const config = await resolveSimulationConfig({ clients: 100 });
    expect(config).toMatchObject({
      clients: 100, fraction: 0.1, dataset: { name: 'mnist' }, partition: { kind: 'iid' }, model: { kind: 'builtin', name: '2nn' },
      train: { epochs: 1, batchSize: 10, learningRate: 0.1, learningRateDecay: 1 }, strategy: { name: 'fedavg' }, seed: 0,
    });
  });

  it.each([
    [{ ...base, dataset: 'cifar' }, 'dataset', /unknown data set "cifar"; allowed: mnist, synthetic/],
    [{ ...base, model: 'resnet' }, 'model', /unknown model "resnet"; allowed: 2nn, cnn, linear or a path to a tfjs model\.json/],
    [{ ...base, partition: 'pathological' }, 'partition', /iid, shards, shards:N, dirichlet:ALPHA/],
    [{ ...base, strategy: 'fedsgd' }, 'strategy', /unknown strategy "fedsgd"; allowed: .*fedavg/],
    [{ ...base, fraction: 0 }, 'fraction', /must be > 0 and <= 1/],
    [{ ...base, fraction: 1.5 }, 'fraction', /must be > 0 and <= 1/],
    [{ ...base, partition: 'dirichlet:0' }, 'partition.alpha', /alpha must be a finite number > 0, got 0/],
    [{ ...base, partition: { kind: 'dirichlet', alpha: -1 } }, 'partition.alpha', /alpha must be a finite number > 0/],
    [{ ...base, clients: 1000, partition: 'shards:100' }, 'partition.shardsPerClient', /100000 shards, more than the 60000 training examples/],
    [{ ...base, faults: { dropout: 1 } }, 'faults.dropout', /must be in \[0, 1\)/],
    [{ ...base, rounds: 0 }, 'rounds', /greater than or equal to 1/],
    [{ ...base, extra: 1 }, '(root)', /unknown field\(s\) "extra"/],
  ])('refuses %j naming field %s', async (input, field, pattern) => {
    const error = await failure(input);
    expect(error.code).toBe('config-invalid');
    expect(error.message).toContain(`field "${field}"`);
    expect(error.message).toMatch(pattern);
  });

  it('refuses an unreadable or non-tfjs model.json before any work', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedkit-sim-config-'));
    let error = await failure({ ...base, model: join(dir, 'missing.json') });
    expect(error.message).toMatch(/field "model": cannot read the tfjs model\.json at .*missing\.json: ENOENT/);
    await writeFile(join(dir, 'bad.json'), '{"format":"graph-model"}');
    error = await failure({ ...base, model: join(dir, 'bad.json') });
    expect(error.message).toMatch(/no "modelTopology"/);
  });

  it('resolves a model path relative to the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedkit-sim-config-'));
    await writeFile(join(dir, 'model.json'), '{"modelTopology":{}}');
    await writeFile(join(dir, 'sim.json'), JSON.stringify({ ...base, model: './model.json' }));
    expect((await loadSimulationConfig(join(dir, 'sim.json'))).model).toEqual({ kind: 'path', path: join(dir, 'model.json') });
  });

  it('accepts strategies added to the registry', async () => {
    registerStrategy('fedavg-test-alias', () => fedAvg());
    expect((await resolveSimulationConfig({ ...base, strategy: 'fedavg-test-alias' })).strategy.name).toBe('fedavg-test-alias');
    expect(() => registerStrategy('fedavg', () => fedAvg())).toThrow(RangeError);
  });
});
