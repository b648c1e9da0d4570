/**
 * The whole product from the outside: `fedkit server` and three `fedkit client` processes
 * (real Node processes, tfjs on wasm, real MNIST partitions) complete rounds over real
 * sockets, the model learns, and everything ends cleanly.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RoundMetrics } from '@fedkit/server';
import { jsonSummary, runCli, type CliProcess } from '../helpers/cli.js';

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

function writeConfig(dir: string, federation: Record<string, unknown>): string {
  const path = join(dir, 'fedkit.config.json');
  writeFileSync(
    path,
    JSON.stringify({ model: { builtin: 'mnist-2nn' }, federation, centralEvaluation: { dataset: 'mnist', limit: 2000 } }),
  );
  return path;
}

function startClient(url: string, index: number, extra: string[] = []): CliProcess {
  const proc = runCli([
    'client', '--server', url, '--dataset', 'mnist', '--partition', 'iid', '--num-partitions', '10',
    '--partition-index', String(index), '--limit', '12000', '--json', ...extra,
  ]);
  running.push(proc);
  return proc;
}

describe('fedkit server + fedkit client processes', () => {
  it('three Node clients train the 2NN on MNIST partitions and accuracy rises', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-e2e-'));
    const config = writeConfig(dir, {
      rounds: 3,
      minClients: 3,
      sampling: { fraction: 1, minFit: 3 },
      train: { epochs: 1, batchSize: 10, learningRate: 0.1 },
      evaluate: { every: 1, batchSize: 200 },
    });
    const server = runCli(['server', '--config', config, '--port', '0', '--data-dir', join(dir, 'data'), '--json']);
    running.push(server);
    const [, url] = await server.waitForLine(/listening on (http:\/\/[\d.]+:\d+)/);
    const clients = [0, 1, 2].map((i) => startClient(url!, i));

    expect(await server.exited).toBe(0);
    const summary = jsonSummary(server);
    expect(summary).toMatchObject({ command: 'server', reason: 'completed', roundsCompleted: 3 });
    const { rounds } = JSON.parse(readFileSync(summary.metricsPath as string, 'utf8')) as { rounds: RoundMetrics[] };
    expect(rounds.map((r) => [r.round, r.status, r.replied])).toEqual([
      [1, 'completed', 3],
      [2, 'completed', 3],
      [3, 'completed', 3],
    ]);
    const accuracy = rounds.map((r) => r.centralEvaluation!.accuracy);
    expect(accuracy[2]).toBeGreaterThan(accuracy[0]!);
    expect(accuracy[2]).toBeGreaterThan(0.8);
    // Federated evaluation on the clients' held-out slices ran too.
    expect(rounds[2]!.federatedEvaluation).toMatchObject({ numClients: 3, numExamples: 3000 });
    expect(rounds[0]!.bytesIn).toBe(3 * 199_210 * 4);
    // The final model was saved in tfjs format next to the metrics.
    const modelJson = JSON.parse(readFileSync(summary.modelPath as string, 'utf8')) as { weightsManifest: { weights: unknown[] }[] };
    expect(modelJson.weightsManifest[0]!.weights).toHaveLength(6);

    for (const client of clients) {
      expect(await client.exited).toBe(0);
      expect(jsonSummary(client)).toMatchObject({ command: 'client', backend: 'wasm', roundsTrained: 3, finished: 'completed' });
    }
  }, 120_000);

  it('shuts down gracefully on SIGTERM and tells connected clients', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-e2e-'));
    const config = writeConfig(dir, { rounds: 5, minClients: 2 });
    const server = runCli(['server', '--config', config, '--port', '0', '--data-dir', join(dir, 'data'), '--json']);
    running.push(server);
    const [, url] = await server.waitForLine(/listening on (http:\/\/[\d.]+:\d+)/);
    const client = startClient(url!, 0);
    await client.waitForLine(/connecting to/);
    // Wait until the server has seen the client join.
    for (;;) {
      const status = (await (await fetch(`${url}/api/status`)).json()) as { clients: { total: number } };
      if (status.clients.total === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(jsonSummary(server)).toMatchObject({ reason: 'server-shutting-down', roundsCompleted: 0 });
    expect(await client.exited).toBe(0);
    expect(jsonSummary(client)).toMatchObject({ finished: 'server-shutting-down', roundsTrained: 0 });
  }, 60_000);
});

describe('fedkit CLI input validation', () => {
  it.each([
    [['server'], '--config is required'],
    [['server', '--config', '/nonexistent/fedkit.json'], 'cannot read config file'],
    [['server', '--config', 'x.yaml'], 'config file must end in .json, .js, .mjs or .ts'],
    [['server', '--config', 'examples/mnist-2nn/fedkit.config.json', '--port', 'abc'], '--port must be an integer ≥ 0 and ≤ 65535, got "abc"'],
    [['server', '--bogus'], "Unknown option '--bogus'"],
    [['client', '--server', 'ftp://x', '--dataset', 'mnist', '--num-partitions', '2', '--partition-index', '0'], '--server must be an http:// or https:// URL'],
    [['client', '--server', 'http://x', '--dataset', 'cifar', '--num-partitions', '2', '--partition-index', '0'], '--dataset must be one of mnist'],
    [['client', '--server', 'http://x', '--dataset', 'mnist', '--num-partitions', '2', '--partition-index', '2'], '--partition-index must be below --num-partitions (2)'],
    [['client', '--server', 'http://x', '--dataset', 'mnist', '--partition', 'dirichlet:-1', '--num-partitions', '2', '--partition-index', '0'], '--partition:'],
    [['client', '--server', 'http://x', '--dataset', 'mnist', '--num-partitions', '2', '--partition-index', '0', '--backend', 'tpu'], '--backend must be one of wasm, cpu'],
    [['demo', '--clients', '0'], '--clients must be an integer ≥ 1'],
    [['demo', '--target', '1.5'], '--target must be a number in (0, 1]'],
    [['nope'], 'unknown command "nope"'],
  ])('fedkit %j fails with exit code 2 naming the problem', async (args, message) => {
    const proc = runCli(args);
    expect(await proc.exited).toBe(2);
    expect(proc.stderr.join('\n')).toContain(message);
  });

  it('an invalid server config fails at start naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-e2e-'));
    const config = writeConfig(dir, { rounds: 0 });
    const proc = runCli(['server', '--config', config]);
    expect(await proc.exited).toBe(2);
    expect(proc.stderr.join('\n')).toMatch(/config-invalid: .*fedkit\.config\.json: field "federation\.rounds"/);
  });

  it.each(['server', 'client', 'demo'])('fedkit %s --help lists its options', async (command) => {
    const proc = runCli([command, '--help']);
    expect(await proc.exited).toBe(0);
    const text = proc.stdout.join('\n');
    expect(text).toContain(`Usage: fedkit ${command}`);
    expect(text).toContain('--json');
  });
});
