/**
 * End to end on synthetic data: async mode (the server's FedBuff) and client churn with
 * stragglers. Churn takes the configured share of clients offline (measured at the server);
 * an async run publishes model versions whose accuracy rises, each with its wall-clock time;
 * a sync run under churn completes its rounds with the offline clients' failures recorded.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FederationServer } from '@fedkit/server';
import { onlineAt, type SimulationConfigInput } from '@fedkit/simulation';
import { run, small } from './helpers.js';

const churn = { offlineFraction: 0.3, meanOnlineMs: 2000 };
const stragglers = { straggler: 0.3, stragglerDelayMs: 50, stragglerDelayMaxMs: 250 };

/**
 * Samples, every 20 ms while the server trains, how many clients are joined and how many the
 * seeded timelines say are online (time 0 of the timelines is the start of training).
 */
function connectedSampler(clients: number, seed: number): { onServer: (s: FederationServer) => void; joined: number[]; scheduled: number[]; stop: () => void } {
  const joined: number[] = [];
  const scheduled: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  return {
    joined,
    scheduled,
    onServer: (server) => {
      let epoch = 0;
      server.on('stage', (stage) => {
        if (stage === 'training' && epoch === 0) epoch = Date.now();
      });
      timer = setInterval(() => {
        // From the first version on (before it the workers are still loading their data).
        if (server.roundHistory().length === 0 || server.stage !== 'training') return;
        joined.push(server.status().clients.total);
        let online = 0;
        for (let i = 0; i < clients; i++) if (onlineAt(seed, i, churn, Date.now() - epoch)) online++;
        scheduled.push(online);
      }, 20);
    },
    stop: () => clearInterval(timer),
  };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('simulation with churn and async mode', () => {
  it('async: takes the configured share of clients offline, publishes versions whose accuracy rises, with wall-clock times', async () => {
    const config: SimulationConfigInput = {
      ...small,
      clients: 40,
      mode: 'async',
      rounds: 40,
      async: { bufferSize: 5, maxStaleness: 8 },
      churn,
      faults: stragglers,
    };
    const sampler = connectedSampler(40, 7);
    const result = await run(config, { onServer: sampler.onServer }).finally(sampler.stop);
    expect(result.rounds).toBe(40);
    expect(result.reason).toBe('published 40 model versions');
    // Clients that go offline in the middle of their hello must not take their worker down.
    expect(result.workerReplacements).toBe(0);

    // Churn, measured at the server: about 30% of the 40 clients are not joined at any time,
    // as their seeded timelines say; a rejoin (connect, hello, welcome) on a busy machine lags
    // its timeline by tens of ms, so the server sees a little more offline, never less.
    expect(sampler.joined.length).toBeGreaterThan(20);
    const offline = 1 - mean(sampler.joined) / 40;
    const scheduledOffline = 1 - mean(sampler.scheduled) / 40;
    expect(scheduledOffline).toBeGreaterThan(0.15);
    expect(scheduledOffline).toBeLessThan(0.45);
    expect(offline - scheduledOffline).toBeGreaterThan(-0.06);
    expect(offline - scheduledOffline).toBeLessThan(0.12);

    // Versions, not rounds: each folded K = 5 updates; some were stale; clients that went
    // offline with a task are recorded as failures.
    const versions = result.history;
    expect(versions.map((v) => v.round)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    for (const v of versions) expect(v.async?.updatesFolded).toBe(5);
    expect(versions.some((v) => (v.async?.stalenessMax ?? 0) > 0)).toBe(true);
    expect(versions.flatMap((v) => v.failed.map((f) => f.code))).toContain('client-disconnected');
    // Accuracy rises: the last versions are far better than the first.
    const first = versions[0]!.accuracy!;
    expect(result.finalAccuracy!).toBeGreaterThan(first + 0.1);
    expect(result.finalAccuracy!).toBeGreaterThan(0.8);

    // Wall-clock times: increasing, in the JSON, the CSV and a plot of their own.
    const metrics = JSON.parse(await readFile(join(result.runDir, 'metrics.json'), 'utf8')) as { rounds: { wallClockMs: number }[] };
    const times = metrics.rounds.map((r) => r.wallClockMs);
    expect(times).toHaveLength(40);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
    expect(times[39]!).toBeGreaterThan(times[0]!);
    const csv = (await readFile(join(result.runDir, 'metrics.csv'), 'utf8')).trim().split('\n');
    const header = csv[0]!.split(',');
    expect(Number(csv[40]!.split(',')[header.indexOf('wallClockMs')])).toBe(times[39]);
    const svg = await readFile(join(result.runDir, 'plot-wallclock.svg'), 'utf8');
    expect(svg).toContain('wall-clock time since training started (s)');
    expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){39}"/);
  });

  it('sync: rounds under churn complete, with the clients that went offline mid-round recorded as failures', async () => {
    const result = await run({ ...small, clients: 40, fraction: 0.25, rounds: 6, churn, faults: stragglers });
    expect(result.rounds).toBe(6);
    expect(result.workerReplacements).toBe(0);
    const completed = result.history.filter((r) => r.status === 'completed');
    expect(completed).toHaveLength(6);
    // Each round closed when all its selected clients had replied or failed.
    for (const r of completed) expect(r.replied + r.failed.length).toBe(r.selected);
    expect(completed.flatMap((r) => r.failed.map((f) => f.code))).toContain('client-disconnected');
    expect(result.finalAccuracy!).toBeGreaterThan(0.7);
    const metrics = JSON.parse(await readFile(join(result.runDir, 'metrics.json'), 'utf8')) as { rounds: { wallClockMs: number }[] };
    expect(metrics.rounds.every((r) => r.wallClockMs > 0)).toBe(true);
  });
});
