/**
 * What both variants of bench:load share: the model (an MNIST MLP's layout), the light
 * client processes, the checks that a run really did what it claims, and the report.
 */
import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import type { ModelDefinition, RoundMetrics } from '@fedkit/server';
import { layoutSize, seededRandomSource, type WeightsLayout } from '@fedkit/protocol';
import { forkClientScript } from './client-processes.js';
import type { LoadChildConfig, LoadChildStats } from './load-clients.js';
import type { LoadArguments } from './load-args.js';

/** Every element of every participant's update. */
export const UPDATE_VALUE = 1 / 1024;

/** An MNIST MLP, 784-128-10: 101,770 float32 parameters (407 KB each way per participant). */
export function mlpModel(): ModelDefinition {
  const layout: WeightsLayout = [
    { name: 'mlp_hidden/kernel', shape: [784, 128] },
    { name: 'mlp_hidden/bias', shape: [128] },
    { name: 'mlp_output/kernel', shape: [128, 10] },
    { name: 'mlp_output/bias', shape: [10] },
  ];
  const random = seededRandomSource(2017);
  const weights = Float32Array.from({ length: layoutSize(layout) }, () => (random.nextFloat() * 2 - 1) * 0.05);
  return { topology: null, layout, weights };
}

export const loadLine = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

export const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);

/** Forks the light clients (bench/load-clients.ts) into `children`; resolves once all joined, to the ms it took. */
export async function forkLoadClients(args: LoadArguments, serverUrl: string, params: number, children: ChildProcess[]): Promise<number> {
  const start = performance.now();
  await forkClientScript<LoadChildConfig>(
    {
      script: new URL('./load-clients.ts', import.meta.url),
      procs: args.procs,
      clients: args.connections,
      configFor: (clientIds) => ({ serverUrl, clientIds, params, updateValue: UPDATE_VALUE, joinConcurrency: args.joinConcurrency }),
    },
    children,
  );
  return performance.now() - start;
}

/** The client processes' counters and RSS, summed. */
export async function clientStats(children: readonly ChildProcess[]): Promise<{ trained: number; errors: number; rssBytes: number }> {
  const all = await Promise.all(children.map(childStats));
  return all.reduce((a, s) => ({ trained: a.trained + s.trained, errors: a.errors + s.errors, rssBytes: a.rssBytes + s.rssBytes }), { trained: 0, errors: 0, rssBytes: 0 });
}

function childStats(child: ChildProcess): Promise<LoadChildStats> {
  return new Promise((resolve) => {
    const listener = (message: { type?: string }): void => {
      if (message.type !== 'stats') return;
      child.off('message', listener);
      resolve(message as LoadChildStats);
    };
    child.on('message', listener);
    child.send({ type: 'stats' });
  });
}

/** Asks the client processes to stop their clients and exit, then makes sure they do. */
export function stopLoadClients(children: readonly ChildProcess[]): void {
  for (const child of children) if (child.connected) child.send({ type: 'exit' });
  for (const child of children) child.kill();
}

/**
 * Throws unless every round completed with exactly `participants` sampled and replying, the
 * clients trained that many times without an error, and FedAvg moved the weight at `index`
 * by the fixed update once per round.
 */
export function checkRun(args: LoadArguments, history: readonly RoundMetrics[], trained: number, errors: number, weight: { initial: number; final: number }): void {
  const { participants, rounds } = args;
  const bad = history.filter((r) => r.status !== 'completed' || r.replied !== participants || r.selected !== participants);
  if (bad.length > 0 || history.length !== rounds) {
    throw new Error(`rounds failed: ${JSON.stringify(bad.map((r) => ({ round: r.round, selected: r.selected, replied: r.replied, reason: r.reason, failed: r.failed.slice(0, 3) })))}`);
  }
  if (trained !== participants * rounds || errors > 0) throw new Error(`clients trained ${trained} times (expected ${participants * rounds}) with ${errors} errors`);
  const expected = weight.initial + UPDATE_VALUE * rounds;
  if (Math.abs(weight.final - expected) > 1e-4) throw new Error(`final weight ${weight.final} differs from ${expected}`);
}

export function printRound(metrics: RoundMetrics): void {
  console.log(`  round ${metrics.round}: ${metrics.status}, ${metrics.replied}/${metrics.selected} replied, ${metrics.durationMs} ms (train phase ${metrics.trainPhaseMs} ms, aggregate ${metrics.aggregateMs} ms)`);
}

/** The bench's last line. */
export function resultLine(args: LoadArguments, params: number, roundMs: number, rssPerConnectionKB: number): string {
  return JSON.stringify({ bench: 'load', connections: args.connections, participants: args.participants, params, roundMs, rssPerConnectionKB: Number(rssPerConnectionKB.toFixed(1)) });
}

/**
 * The federation options both variants run with: rounds of `participants` sampled from all
 * `connections`, no federated evaluation, one attempt, and 10-minute deadlines so that a
 * slow shared machine measures time instead of failing the round.
 */
export function loadFederationOptions(args: LoadArguments): {
  rounds: number; minClients: number; sampling: { fraction: number; minFit: number };
  evaluate: { every: number }; maxRoundAttempts: number; roundDeadlineMs: number; transfer: { timeoutMs: number };
} {
  const { connections, participants, rounds } = args;
  return {
    rounds,
    minClients: connections,
    sampling: { fraction: participants / connections, minFit: participants },
    evaluate: { every: 0 },
    maxRoundAttempts: 1,
    roundDeadlineMs: 600_000,
    transfer: { timeoutMs: 600_000 },
  };
}
