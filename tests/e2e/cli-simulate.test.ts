/**
 * `fedkit simulate` as a user runs it: a small synthetic federation end to end with --json,
 * and a bad config refused before any work with the field and the allowed values.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

async function configFile(config: unknown): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'fedkit-cli-sim-'));
  const path = join(dir, 'sim.json');
  await writeFile(path, JSON.stringify(config));
  return { dir, path };
}

describe('fedkit simulate', () => {
  it('runs a config and prints the JSON summary as the last line', async () => {
    const { dir, path } = await configFile({
      clients: 10, fraction: 0.5, model: 'linear', rounds: 2, targetAccuracy: 0.99, seed: 2,
      dataset: { name: 'synthetic', numExamples: 500, testExamples: 200 },
    });
    const out = join(dir, 'run');
    const cli = runCli(['simulate', '--config', path, '--out', out, '--json']);
    expect(await cli.exited).toBe(0);
    expect(cli.stdout.some((l) => /^round 2\/2 · 5\/5 clients · test accuracy [\d.]+% .* ETA /.test(l))).toBe(true);
    const summary = JSON.parse(cli.stdout[cli.stdout.length - 1]!) as Record<string, unknown>;
    expect(Object.keys(summary)).toEqual(['rounds', 'finalAccuracy', 'target', 'roundsToTarget', 'runDir', 'epsilon', 'delta']);
    expect(summary).toMatchObject({ rounds: 2, target: 0.99, runDir: out, epsilon: null, delta: null });
    expect((await readFile(join(out, 'metrics.csv'), 'utf8')).trim().split('\n')).toHaveLength(3);
  });

  it('reports ε spent by the server accountant under central DP, per round and in the summary', async () => {
    const { dir, path } = await configFile({
      clients: 10, fraction: 0.5, model: 'linear', rounds: 2, seed: 2,
      dataset: { name: 'synthetic', numExamples: 500, testExamples: 200 },
      privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1.5, budget: { epsilon: 10, delta: 1e-4 } },
    });
    const cli = runCli(['simulate', '--config', path, '--out', join(dir, 'run'), '--json']);
    expect(await cli.exited).toBe(0);
    expect(cli.stdout.some((l) => /^round 2\/2 · .* · ε [\d.]+ · /.test(l))).toBe(true);
    expect(cli.stdout.some((l) => /^privacy \(central DP\): ε = [\d.]+ at δ = 0\.0001 after 2 charged rounds$/.test(l))).toBe(true);
    const summary = JSON.parse(cli.stdout[cli.stdout.length - 1]!) as { epsilon: number; delta: number };
    // q = 5/10, z = 1.5, two rounds at δ = 1e-4 (`fedkit privacy epsilon`).
    expect(summary.epsilon).toBeCloseTo(2.58275147, 6);
    expect(summary.delta).toBe(1e-4);
  });

  it('refuses distributed DP without secure aggregation before any work (the server\'s validator)', async () => {
    const { path } = await configFile({ clients: 10, privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 1 } });
    const cli = runCli(['simulate', '--config', path]);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr.join('\n')).toMatch(/config-invalid: simulation config: field "privacy.mode": "distributed" needs secure aggregation/);
    expect(cli.stdout.join('\n')).not.toMatch(/round 1/);
  });

  it('runs async mode (FedBuff) under churn, prints versions, keeps the --json shape, and --compare plots runs against wall-clock time', async () => {
    const base = { clients: 12, model: 'linear', seed: 3, dataset: { name: 'synthetic', numExamples: 600, testExamples: 200 }, churn: { offlineFraction: 0.25, meanOnlineMs: 1000 } };
    const { dir, path } = await configFile({ ...base, mode: 'async', rounds: 6, async: { bufferSize: 3, maxStaleness: 5 } });
    const asyncOut = join(dir, 'async');
    const cli = runCli(['simulate', '--config', path, '--out', asyncOut, '--json']);
    expect(await cli.exited).toBe(0);
    expect(cli.stdout[0]).toMatch(/async \(FedBuff K=3\) · churn 25% offline .* up to 6 versions/);
    expect(cli.stdout.some((l) => /^version 6\/6 · 3 updates \(staleness mean [\d.]+, max \d+\)/.test(l))).toBe(true);
    const summary = JSON.parse(cli.stdout[cli.stdout.length - 1]!) as Record<string, unknown>;
    expect(Object.keys(summary)).toEqual(['rounds', 'finalAccuracy', 'target', 'roundsToTarget', 'runDir', 'epsilon', 'delta']);
    expect(summary).toMatchObject({ rounds: 6, runDir: asyncOut });

    const sync = join(dir, 'sync.json');
    await writeFile(sync, JSON.stringify({ ...base, fraction: 0.5, rounds: 2 }));
    expect(await runCli(['simulate', '--config', sync, '--out', join(dir, 'sync')]).exited).toBe(0);
    const svg = join(dir, 'compare.svg');
    const compare = runCli(['simulate', '--compare', `${asyncOut},${join(dir, 'sync')}`, '--out', svg, '--title', 'FedBuff vs FedAvg']);
    expect(await compare.exited).toBe(0);
    const text = await readFile(svg, 'utf8');
    expect(text).toContain('FedBuff vs FedAvg');
    expect(text).toContain('async: async');
    expect(text).toContain('sync: sync');
    expect(text.match(/<path d="M/g)).toHaveLength(2);

    const missing = runCli(['simulate', '--compare', join(dir, 'nowhere'), '--out', svg]);
    expect(await missing.exited).toBe(2);
    expect(missing.stderr.join('\n')).toMatch(/config-invalid: cannot read the run directory .*nowhere/);
  });

  it('refuses an unknown partition before any work, naming the field and the allowed values', async () => {
    const { path } = await configFile({ clients: 10, partition: 'zipf' });
    const cli = runCli(['simulate', '--config', path]);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr.join('\n')).toMatch(/config-invalid: simulation config: field "partition": .*allowed: iid, shards, shards:N, dirichlet:ALPHA/);
    expect(cli.stdout.join('\n')).not.toMatch(/round 1/);
  });
});
