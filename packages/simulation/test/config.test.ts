import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { STRATEGY_NAMES } from '@fedkit/aggregation';
import { loadSimulationConfig, resolveSimulationConfig, serverOptionsFor } from '@fedkit/simulation';

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
    [{ ...base, strategy: 'fedsgd' }, 'strategy.name', /unknown strategy "fedsgd"; allowed: fedavg, fedavgm, .*fedprox/],
    [{ ...base, strategy: { name: 'fedadam', beta1: 1 } }, 'strategy.beta1', /beta1 must be a finite number in \[0, 1\), got 1/],
    [{ ...base, strategy: { name: 'fedyogi', beta2: -0.1 } }, 'strategy.beta2', /in \[0, 1\)/],
    [{ ...base, strategy: { name: 'fedadagrad', tau: 0 } }, 'strategy.tau', /tau must be a finite number > 0, got 0/],
    [{ ...base, strategy: { name: 'fedprox', proximalMu: -0.1 } }, 'strategy.proximalMu', /≥ 0, got -0.1/],
    [{ ...base, strategy: { name: 'fedprox' } }, 'strategy.proximalMu', /must be a number/],
    [{ ...base, strategy: { name: 'fedavgm', momentum: 1.5 } }, 'strategy.momentum', /in \[0, 1\), got 1\.5/],
    [{ ...base, privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 1 } }, 'privacy.mode', /"distributed" needs secure aggregation/],
    [{ ...base, privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1, budget: { epsilon: 8 } } }, 'privacy.budget.delta', /needs δ/],
    [{ ...base, privacy: { mode: 'central', noiseMultiplier: 1 } }, 'privacy.clipNorm', /is required/],
    [{ ...base, privacy: { mode: 'local', clipNorm: 1, noiseMultiplier: 1, adaptiveClipping: true } }, 'privacy.adaptiveClipping', /only for modes "central" and "distributed"/],
    [{ ...base, privacy: { mode: 'central', noiseMultiplier: 0.5, adaptiveClipping: true }, secureAggregation: { enabled: true } }, 'privacy.mode', /"central" clips .* secure aggregation shows the server only the masked sum/],
    [{ ...base, privacy: { mode: 'distributed', noiseMultiplier: 0.05, adaptiveClipping: true }, secureAggregation: { enabled: true, quantization: { maxWeight: 1, clippingRange: 0.5 } } }, 'secureAggregation.quantization.clippingRange', /clipped-count coordinate/],
    [{ ...base, privacy: { mode: 'secret' } }, 'privacy.mode', /must be one of "none", "local", "central", "distributed"/],
    [{ ...base, secureAggregation: { enabled: true, threshold: 0 } }, 'secureAggregation.threshold', /greater than or equal to 1/],
    [{ ...base, attack: { fraction: 0.2, kind: 'label-flip' } }, 'attack.kind', /allowed: sign-flip, scale, gaussian-noise/],
    [{ ...base, attack: { fraction: 1, kind: 'sign-flip' } }, 'attack.fraction', /must be > 0 and < 1/],
    [{ ...base, attack: { fraction: 0.05, kind: 'sign-flip' } }, 'attack.fraction', /no attacker/],
    [{ ...base, attack: { fraction: 0.2, kind: 'gaussian-noise' } }, 'attack.scale', /required for kind "gaussian-noise"/],
    [{ ...base, attack: { fraction: 0.2, kind: 'scale', scale: -2 } }, 'attack.scale', /greater than 0/],
    [{ ...base, fraction: 0 }, 'fraction', /must be > 0 and <= 1/],
    [{ ...base, fraction: 1.5 }, 'fraction', /must be > 0 and <= 1/],
    [{ ...base, partition: 'dirichlet:0' }, 'partition.alpha', /alpha must be a finite number > 0, got 0/],
    [{ ...base, partition: { kind: 'dirichlet', alpha: -1 } }, 'partition.alpha', /alpha must be a finite number > 0/],
    [{ ...base, clients: 1000, partition: 'shards:100' }, 'partition.shardsPerClient', /100000 shards, more than the 60000 training examples/],
    [{ ...base, faults: { dropout: 1 } }, 'faults.dropout', /must be in \[0, 1\)/],
    [{ ...base, faults: { stragglerDelayMs: 500, stragglerDelayMaxMs: 100 } }, 'faults.stragglerDelayMaxMs', /100 is below "faults.stragglerDelayMs" \(500\)/],
    [{ ...base, churn: { offlineFraction: 1, meanOnlineMs: 1000 } }, 'churn.offlineFraction', /must be > 0 and < 1/],
    [{ ...base, churn: { offlineFraction: 0.3 } }, 'churn.meanOnlineMs', /Required/],
    [{ ...base, churn: { offlineFraction: 0.05, meanOnlineMs: 1000 } }, 'churn.meanOnlineMs', /mean offline period .* is 53 ms, below 250 ms/],
    [{ ...base, churn: { offlineFraction: 0.5, meanOnlineMs: 200 } }, 'churn.meanOnlineMs', /greater than or equal to 250/],
    [{ ...base, churn: { offlineFraction: 0.3, meanOnlineMs: 1000, meanOfflineMs: 5 } }, 'churn', /unknown field\(s\) "meanOfflineMs"/],
    [{ ...base, mode: 'fedbuff' }, 'mode', /Expected 'sync' \| 'async'/],
    [{ ...base, mode: 'async' }, 'async', /is required with "mode": "async"/],
    [{ ...base, async: { bufferSize: 5, maxStaleness: 2 } }, 'async', /only used with "mode": "async"/],
    [{ ...base, mode: 'async', async: { bufferSize: 0, maxStaleness: 2 } }, 'async.bufferSize', /greater than or equal to 1/],
    [{ ...base, mode: 'async', async: { bufferSize: 5 } }, 'async.maxStaleness', /Required/],
    [{ ...base, mode: 'async', async: { bufferSize: 5, maxStaleness: 2, maxVersions: 9 } }, 'async.maxVersions', /set by "rounds"/],
    [{ ...base, mode: 'async', async: { bufferSize: 5, maxStaleness: 2, staleness: { kind: 'exponential' } } }, 'async.staleness.kind', /'constant' \| 'polynomial' \| 'hinge'/],
    [{ ...base, mode: 'async', async: { bufferSize: 5, maxStaleness: 2, staleRefusal: 'down-weight', staleness: { kind: 'constant' } } }, 'async.staleRefusal', /needs a decreasing staleness function/],
    [{ ...base, mode: 'async', async: { bufferSize: 5, maxStaleness: 2 }, secureAggregation: { enabled: true } }, 'secureAggregation', /not available with mode 'async'/],
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

  it('takes every strategy of the aggregation registry by name, with its parameters', async () => {
    for (const name of STRATEGY_NAMES) {
      const required: Record<string, object> = { fedprox: { proximalMu: 0.01 }, normbound: { maxNorm: 1 } };
      const input = name in required ? { name, ...required[name] } : name;
      expect((await resolveSimulationConfig({ ...base, strategy: input })).strategy).toMatchObject({ name });
    }
    const adam = await resolveSimulationConfig({ ...base, strategy: { name: 'fedadam', serverLearningRate: 0.01, tau: 1e-3 } });
    expect(adam.strategy).toEqual({ name: 'fedadam', serverLearningRate: 0.01, tau: 1e-3 });
  });

  it('passes privacy and secure aggregation through, filling m with the clients sampled per round', async () => {
    const central = await resolveSimulationConfig({ ...base, clients: 100, fraction: 0.1, privacy: { mode: 'central', adaptiveClipping: true, noiseMultiplier: 0.5, budget: { epsilon: 5, delta: 1e-5 } } });
    expect(central.privacy).toEqual({ mode: 'central', adaptiveClipping: true, noiseMultiplier: 0.5, budget: { epsilon: 5, delta: 1e-5 }, expectedClients: 10 });
    const distributed = await resolveSimulationConfig({
      ...base, privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 }, secureAggregation: { enabled: true },
    });
    expect(distributed.privacy).toMatchObject({ expectedClients: 3 });
    expect(distributed.secureAggregation).toEqual({ enabled: true });
    // The example of distributed DP with adaptive clipping under SecAgg+ loads as it stands.
    const example = await loadSimulationConfig(fileURLToPath(new URL('../../../examples/simulations/privacy-distributed-adaptive-secagg.json', import.meta.url)));
    expect(example.privacy).toMatchObject({ mode: 'distributed', adaptiveClipping: { targetQuantile: 0.1 }, expectedClients: 10 });
    expect(example.secureAggregation).toEqual({ enabled: true });
    expect((await resolveSimulationConfig({ ...base, privacy: { mode: 'none' } })).privacy).toBeNull();
  });

  it('configures the server in async mode (rounds = versions, central DP m = K) and with churn waits for one buffer, not every client', async () => {
    const config = await resolveSimulationConfig({
      ...base, clients: 50, mode: 'async', rounds: 30, async: { bufferSize: 5, maxStaleness: 4, concurrency: 12 },
      churn: { offlineFraction: 0.3, meanOnlineMs: 20_000 }, privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1 },
    });
    expect(config.privacy).toMatchObject({ expectedClients: 5 });
    const server = serverOptionsFor(config);
    expect(server).toMatchObject({ mode: 'async', async: { bufferSize: 5, maxStaleness: 4, concurrency: 12, maxVersions: 30 }, minClients: 5 });
    expect(server.foldOrder).toBeUndefined();
    // Sync without churn: every client joins first (reproducible sampling); with churn: m.
    expect(serverOptionsFor(await resolveSimulationConfig({ ...base, clients: 50 })).minClients).toBe(50);
    expect(serverOptionsFor(await resolveSimulationConfig({ ...base, clients: 50, churn: { offlineFraction: 0.3, meanOnlineMs: 1000 } })).minClients).toBe(5);
  });

  it('loads the churn examples: the same population, seed, churn and stragglers, sync FedAvg against FedBuff', async () => {
    const load = (name: string): ReturnType<typeof loadSimulationConfig> => loadSimulationConfig(fileURLToPath(new URL(`../../../examples/simulations/${name}`, import.meta.url)));
    const sync = await load('churn-sync-fedavg.json');
    const fedbuff = await load('churn-fedbuff.json');
    expect(sync.mode).toBe('sync');
    expect(fedbuff.mode).toBe('async');
    for (const key of ['clients', 'dataset', 'partition', 'model', 'train', 'seed', 'churn', 'faults', 'evaluation'] as const) expect(fedbuff[key]).toEqual(sync[key]);
    expect(sync.churn?.offlineFraction).toBe(0.3);
    expect(sync.faults.straggler).toBeGreaterThan(0);
  });

  it('records the attackers, chosen from the seed', async () => {
    const a = await resolveSimulationConfig({ clients: 50, attack: { fraction: 0.2, kind: 'sign-flip' }, seed: 3 });
    const b = await resolveSimulationConfig({ clients: 50, attack: { fraction: 0.2, kind: 'sign-flip' }, seed: 3 });
    const c = await resolveSimulationConfig({ clients: 50, attack: { fraction: 0.2, kind: 'sign-flip' }, seed: 4 });
    expect(a.attack).toMatchObject({ kind: 'sign-flip', fraction: 0.2, scale: 1 });
    expect(a.attack!.clients).toHaveLength(10);
    expect(a.attack!.clients).toEqual(b.attack!.clients);
    expect(a.attack!.clients).not.toEqual(c.attack!.clients);
  });
});
