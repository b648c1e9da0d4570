/**
 * Load: one server process holding thousands of connected clients while a round of a
 * thousand of them runs (issue 6, part 5): by default 5,000 light clients in 10 child
 * processes (bench/load-clients.ts: real `FedkitClient`s over websockets whose trainer
 * returns a fixed update, no tfjs) and FedAvg rounds of 1,000 sampled participants on the
 * 101,770 parameters of an MNIST MLP (784-128-10).
 *
 * - The real `FederationServer` listens on port 0 in this process, with its default
 *   per-connection limits (they bound each connection, not how many there are); the round
 *   deadline and the transfer timeout are raised to 10 minutes so that a slow shared
 *   machine measures time instead of failing the round.
 * - `roundMs` is the last round's `RoundMetrics.durationMs` (sampling → new global model);
 *   the earlier rounds warm up. `rssPerConnectionKB` is the growth of this process's RSS
 *   from before the first client connects to when all have joined (after a GC when node
 *   runs with --expose-gc), divided by the connections.
 * - Checked: every round completed with exactly `participants` replies, the clients trained
 *   that many times, and the model moved by the fixed update once per round.
 *
 *     pnpm bench:load
 *     npx tsx --expose-gc bench/load.ts --connections 5000 --participants 1000 --procs 10 --rounds 2
 *
 * `--cluster-workers N` (N server processes sharing one federation through Redis) is
 * refused until `fedkit server` has cluster mode. The last line printed is one JSON object.
 */
import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { FederationServer, createLogger, type ModelDefinition, type RoundMetrics } from '@fedkit/server';
import { layoutSize, seededRandomSource, type WeightsLayout } from '@fedkit/protocol';
import { forkClientScript } from './client-processes.js';
import type { LoadChildConfig, LoadChildStats } from './load-clients.js';
import { loadArguments, type LoadArguments } from './load-args.js';

const UPDATE_VALUE = 1 / 1024;
const args = parsedArguments();
const { connections, participants, procs, rounds } = args;

/** An MNIST MLP, 784-128-10: 101,770 float32 parameters (407 KB each way per participant). */
const layout: WeightsLayout = [
  { name: 'mlp_hidden/kernel', shape: [784, 128] },
  { name: 'mlp_hidden/bias', shape: [128] },
  { name: 'mlp_output/kernel', shape: [128, 10] },
  { name: 'mlp_output/bias', shape: [10] },
];
const params = layoutSize(layout);
const random = seededRandomSource(2017);
const initial = Float32Array.from({ length: params }, () => (random.nextFloat() * 2 - 1) * 0.05);
const model: ModelDefinition = { topology: null, layout, weights: initial };

const gc = (globalThis as { gc?: () => void }).gc;
function rssAfterGc(): number {
  gc?.();
  return process.memoryUsage().rss;
}
const loadLine = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

const history: RoundMetrics[] = [];
const server = new FederationServer({
  model,
  rounds,
  minClients: connections,
  sampling: { fraction: participants / connections, minFit: participants },
  evaluate: { every: 0 },
  maxRoundAttempts: 1,
  roundDeadlineMs: 600_000,
  transfer: { timeoutMs: 600_000 },
  random: seededRandomSource(1),
  logger: createLogger(process.env.FEDKIT_LOG_LEVEL ?? 'warn'),
});
server.on('round', (metrics) => {
  history.push(metrics);
  console.log(`  round ${metrics.round}: ${metrics.status}, ${metrics.replied}/${metrics.selected} replied, ${metrics.durationMs} ms (train phase ${metrics.trainPhaseMs} ms, aggregate ${metrics.aggregateMs} ms)`);
});
const port = await server.listen(0);
const rssBefore = rssAfterGc();
console.log(`load: ${connections} clients in ${procs} processes, ${participants} participants a round, P = ${params}, ${rounds} rounds; load average at start ${loadLine()}${gc === undefined ? ' (no --expose-gc: RSS without a forced GC)' : ''}`);

const children: ChildProcess[] = [];
try {
  const joinStart = performance.now();
  await forkClientScript<LoadChildConfig>(
    {
      script: new URL('./load-clients.ts', import.meta.url),
      procs,
      clients: connections,
      configFor: (clientIds) => ({ serverUrl: `http://127.0.0.1:${port}`, clientIds, params, updateValue: UPDATE_VALUE, joinConcurrency: args.joinConcurrency }),
    },
    children,
  );
  const joinMs = performance.now() - joinStart;
  const joined = server.status().clients.total;
  if (joined !== connections) throw new Error(`expected ${connections} joined clients, the server has ${joined}`);
  const rssJoined = rssAfterGc();
  const rssPerConnectionKB = (rssJoined - rssBefore) / connections / 1024;
  console.log(`  ${connections} joined in ${(joinMs / 1000).toFixed(1)} s; server RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssJoined / 2 ** 20).toFixed(0)} MiB (${rssPerConnectionKB.toFixed(1)} KiB per connection)`);

  const idleClientRss = (await Promise.all(children.map(childStats))).reduce((n, s) => n + s.rssBytes, 0);
  console.log(`  client processes joined and idle: ${(idleClientRss / 2 ** 20).toFixed(0)} MiB in all (${(idleClientRss / connections / 1024).toFixed(0)} KiB per client)`);

  const cpuStart = process.cpuUsage();
  const summary = await server.run();
  const cpu = process.cpuUsage(cpuStart);
  const rssEnd = process.memoryUsage().rss;
  const stats = await Promise.all(children.map(childStats));
  const trained = stats.reduce((n, s) => n + s.trained, 0);
  const errors = stats.reduce((n, s) => n + s.errors, 0);
  const bad = history.filter((r) => r.status !== 'completed' || r.replied !== participants || r.selected !== participants);
  if (bad.length > 0 || summary.roundsCompleted !== rounds) {
    throw new Error(`rounds failed: ${JSON.stringify(bad.map((r) => ({ round: r.round, selected: r.selected, replied: r.replied, reason: r.reason, failed: r.failed.slice(0, 3) })))}`);
  }
  if (trained !== participants * rounds || errors > 0) throw new Error(`clients trained ${trained} times (expected ${participants * rounds}) with ${errors} errors`);
  // Every participant sent the same update, so FedAvg moved every weight by it once per round.
  const expected = initial[params - 1]! + UPDATE_VALUE * rounds;
  const final = server.currentWeights()[params - 1]!;
  if (Math.abs(final - expected) > 1e-4) throw new Error(`final weight ${final} differs from ${expected}`);

  const last = history[history.length - 1]!;
  const clientRss = stats.reduce((n, s) => n + s.rssBytes, 0);
  console.log(`  server RSS after the rounds ${(rssEnd / 2 ** 20).toFixed(0)} MiB; client processes ${(clientRss / 2 ** 20).toFixed(0)} MiB in all (${(clientRss / connections / 1024).toFixed(0)} KiB per client)`);
  console.log(`  last round ${last.durationMs} ms: ${((last.bytesOut + last.bytesIn) / 1e6).toFixed(0)} MB moved; server CPU ${((cpu.user + cpu.system) / 1000 / rounds).toFixed(0)} ms per round (mean); load average at end ${loadLine()}`);
  console.log(JSON.stringify({ bench: 'load', connections, participants, params, roundMs: last.durationMs, rssPerConnectionKB: Number(rssPerConnectionKB.toFixed(1)) }));
} finally {
  for (const child of children) if (child.connected) child.send({ type: 'exit' });
  await server.close();
  for (const child of children) child.kill();
}

function parsedArguments(): LoadArguments {
  try {
    return loadArguments(process.argv.slice(2));
  } catch (error) {
    console.error(`bench:load: ${(error as Error).message}`);
    process.exit(2);
  }
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
