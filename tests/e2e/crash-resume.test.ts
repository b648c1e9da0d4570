/**
 * The server killed with SIGKILL mid-round and restarted: `fedkit server` (a real child
 * process with a data dir) runs FedAvgM under central DP; Node clients are connected; the
 * server is killed while round 2 is out for training, then started again on the same port
 * and data dir. It resumes after round 1 with exactly the persisted model bytes and one
 * round charged, the clients reconnect on their own and carry on, and the run ends with
 * three rounds charged three times in all.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FedkitClient } from '@fedkit/client-core';
import { RdpAccountant } from '@fedkit/privacy';
import type { RoundMetrics } from '@fedkit/server';
import { runCli, type CliProcess } from '../helpers/cli.js';
import { constantTrainer, startClient } from '../helpers/federation.js';

const running: CliProcess[] = [];
const clients: FedkitClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.stop();
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('kill -9 mid-round and restart', () => {
  it('resumes from the last completed round with identical model bytes, no double charge, clients carry on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-crash-'));
    const dataDir = join(dir, 'data');
    const config = join(dir, 'fedkit.config.json');
    const privacy = { mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3, budget: { epsilon: 1000, delta: 1e-5 } };
    writeFileSync(
      config,
      JSON.stringify({
        model: { builtin: 'mnist-2nn' },
        federation: { rounds: 3, minClients: 3, sampling: { minFit: 3 }, evaluate: { every: 0 }, roundDeadlineMs: 60_000, strategy: { name: 'fedavgm', momentum: 0.5 }, privacy },
      }),
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const serve = (): CliProcess => {
      const proc = runCli(['server', '--config', config, '--port', String(port), '--data-dir', dataDir, '--json']);
      running.push(proc);
      return proc;
    };

    // Round 2's training waits for `gate`; each client says when round 2 reached it.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const reachedRound2: Promise<void>[] = [];
    const joins = new Map<string, number>();
    const trainers = ['a', 'b', 'c'].map((id) => {
      const trainer = constantTrainer(0.001);
      const train = trainer.train.bind(trainer);
      let reached!: () => void;
      reachedRound2.push(new Promise((resolve) => (reached = resolve)));
      trainer.train = async (global, cfg, context) => {
        if (context.round === 2) {
          reached();
          await gate;
        }
        return train(global, cfg, context);
      };
      return { id, trainer };
    });

    const first = serve();
    await first.waitForLine(/listening on/);
    for (const { id, trainer } of trainers) {
      const client = startClient(url, id, trainer, true);
      client.on('joined', () => joins.set(id, (joins.get(id) ?? 0) + 1));
      clients.push(client);
    }
    await Promise.all(reachedRound2);

    // Round 1 is committed, round 2 is out for training: kill -9.
    first.child.kill('SIGKILL');
    await first.exited;
    const stateDir = join(dataDir, 'state');
    const manifest = JSON.parse(readFileSync(join(stateDir, 'manifest.json'), 'utf8')) as { round: number; files: { model: { name: string } } };
    expect(manifest.round).toBe(1);
    const persisted = readFileSync(join(stateDir, manifest.files.model.name));
    expect(persisted.byteLength).toBe(199_210 * 4);

    const second = serve();
    const [, resumedRound, resumedSha] = (await second.waitForLine(/resumed from .* after round (\d+) \(model version \d+, sha256 ([0-9a-f]{64})\)/))!;
    expect(resumedRound).toBe('1');
    expect(resumedSha).toBe(sha256(persisted));
    await second.waitForLine(/listening on/);
    // Nothing can aggregate while the gate is shut: the served model is the persisted one.
    const served = new Uint8Array(await (await fetch(`${url}/api/model/weights.bin`)).arrayBuffer());
    expect(sha256(served)).toBe(sha256(persisted));
    const status = (await (await fetch(`${url}/api/status`)).json()) as { modelVersion: number; roundsCompleted: number; privacy: { roundsCharged: number } };
    expect(status).toMatchObject({ modelVersion: 1, roundsCompleted: 1, privacy: { roundsCharged: 1 } });

    open();
    expect(await second.exited).toBe(0);
    const { rounds } = JSON.parse(readFileSync(join(dataDir, 'metrics.json'), 'utf8')) as { rounds: RoundMetrics[] };
    expect(rounds.filter((r) => r.status === 'completed').map((r) => r.round)).toEqual([1, 2, 3]);
    const expected = new RdpAccountant();
    for (let i = 0; i < 3; i++) expected.charge({ samplingRate: 1, noiseMultiplier: 1 });
    expect(rounds[rounds.length - 1]!.privacy).toMatchObject({ roundsCharged: 3 });
    expect(rounds[rounds.length - 1]!.privacy!.epsilon).toBeCloseTo(expected.epsilon(1e-5).epsilon, 10);
    // Each client rejoined the restarted server by itself and trained rounds 2 and 3 there.
    for (const { id, trainer } of trainers) {
      expect(joins.get(id), id).toBeGreaterThanOrEqual(2);
      expect(trainer.rounds.slice(0, 1)).toEqual([1]);
      expect(trainer.rounds.slice(-2)).toEqual([2, 3]);
    }
    await Promise.all(clients.map((c) => c.finished));
  }, 120_000);
});
