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
    expect(Object.keys(summary)).toEqual(['rounds', 'finalAccuracy', 'target', 'roundsToTarget', 'runDir']);
    expect(summary).toMatchObject({ rounds: 2, target: 0.99, runDir: out });
    expect((await readFile(join(out, 'metrics.csv'), 'utf8')).trim().split('\n')).toHaveLength(3);
  });

  it('refuses an unknown partition before any work, naming the field and the allowed values', async () => {
    const { path } = await configFile({ clients: 10, partition: 'zipf' });
    const cli = runCli(['simulate', '--config', path]);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr.join('\n')).toMatch(/config-invalid: simulation config: field "partition": .*allowed: iid, shards, shards:N, dirichlet:ALPHA/);
    expect(cli.stdout.join('\n')).not.toMatch(/round 1/);
  });
});
