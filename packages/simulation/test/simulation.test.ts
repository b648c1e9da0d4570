/**
 * End to end: the real server and FedkitClients over loopback, on synthetic data, with the
 * worker pool. Determinism, learning, fault injection and a crashing worker.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FederationServer } from '@fedkit/server';
import type { SimulationConfigInput } from '@fedkit/simulation';
import { run, small } from './helpers.js';

describe('runSimulation', () => {
  it('is bit-for-bit deterministic for a seed, learns, and writes the run directory', async () => {
    const first = await run(small);
    const second = await run(small);
    expect(first.rounds).toBe(3);
    expect(Buffer.from(first.weights.buffer).equals(Buffer.from(second.weights.buffer))).toBe(true);
    expect(first.history.map((r) => r.accuracy)).toEqual(second.history.map((r) => r.accuracy));
    // Learns: far above chance (0.25) and better than after the first round.
    expect(first.finalAccuracy!).toBeGreaterThan(0.8);
    expect(first.finalAccuracy!).toBeGreaterThan(first.history[0]!.accuracy!);

    const csv = (await readFile(join(first.runDir, 'metrics.csv'), 'utf8')).trim().split('\n');
    expect(csv).toHaveLength(4);
    expect(JSON.parse(await readFile(join(first.runDir, 'config.json'), 'utf8'))).toMatchObject({ clients: 20, seed: 7 });
    expect(await readFile(join(first.runDir, 'plot.svg'), 'utf8')).toContain('<svg');
    const modelJson = JSON.parse(await readFile(join(first.runDir, 'model', 'model.json'), 'utf8')) as { format: string };
    expect(modelJson.format).toBe('layers-model');
    const summary = JSON.parse(await readFile(join(first.runDir, 'summary.json'), 'utf8')) as { rounds: number };
    expect(summary.rounds).toBe(3);
  });

  it('injects seeded drop-outs and stragglers; the round loop counts them as failures and goes on', async () => {
    const faulty: SimulationConfigInput = { ...small, faults: { dropout: 0.3, straggler: 0.3, stragglerDelayMs: 30_000 }, roundDeadlineMs: 1200 };
    const result = await run(faulty);
    expect(result.rounds).toBe(3);
    const codes = result.history.flatMap((r) => r.failed.map((f) => f.code));
    expect(codes).toContain('client-disconnected');
    expect(codes).toContain('deadline-exceeded');
    for (const r of result.history) expect(r.replied + r.failed.length).toBe(r.selected);
    expect(result.finalAccuracy!).toBeGreaterThan(0.6);
  });

  it('virtual clients reconnect and rejoin after their connections break or the server drops them', async () => {
    let cut = false;
    let server: FederationServer | undefined;
    const result = await run(
      { ...small, rounds: 3 },
      {
        onServer: (s) => (server = s),
        onRound: (metrics) => {
          if (metrics.round === 1 && !cut) {
            cut = true;
            // Half the connections break at the transport (as after a missed heartbeat), the
            // other half are disconnected by the server; both kinds must come back.
            [...server!.io.sockets.sockets.values()].forEach((socket, i) => (i % 2 === 0 ? socket.conn.close() : socket.disconnect(true)));
          }
        },
      },
    );
    expect(cut).toBe(true);
    expect(result.rounds).toBe(3);
    expect(result.history.filter((r) => r.status === 'completed').map((r) => r.replied)).toEqual([10, 10, 10]);
  });

  it('replaces a worker that crashes mid-round: its clients fail that round, the simulation goes on', async () => {
    const logs: string[] = [];
    const result = await run({ ...small, rounds: 3 }, { crashWorkerAtRound: 2, onLog: (_level, message) => logs.push(message) });
    expect(result.workerReplacements).toBe(1);
    expect(logs.some((m) => /worker 0 crashed/.test(m))).toBe(true);
    const round2 = result.history.find((r) => r.round === 2 && r.status === 'completed')!;
    expect(round2.failed.length).toBeGreaterThan(0);
    expect(round2.failed.map((f) => f.code)).toEqual(expect.arrayContaining(['client-disconnected']));
    expect(result.rounds).toBe(3);
    // The replacement's clients rejoined and trained in round 3.
    const round3 = result.history.find((r) => r.round === 3 && r.status === 'completed')!;
    expect(round3.failed).toEqual([]);
  });
});
