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

  it('refuses an unknown partition before any work, naming the field and the allowed values', async () => {
    const { path } = await configFile({ clients: 10, partition: 'zipf' });
    const cli = runCli(['simulate', '--config', path]);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr.join('\n')).toMatch(/config-invalid: simulation config: field "partition": .*allowed: iid, shards, shards:N, dirichlet:ALPHA/);
    expect(cli.stdout.join('\n')).not.toMatch(/round 1/);
  });
});
