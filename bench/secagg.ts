/**
 * What secure aggregation costs: one SecAgg+ round with 100 clients and 1,000,000 parameters
 * at 10% drop-out, and a plain encrypted FedAvg round of the same size in the same run
 * (issue 3's proof; targets on 2 cores: client ≤ 2 s, server ≤ 5 s).
 *
 * - SecAgg+: the pure state machines of @fedkit/privacy/secagg driven in this process, with
 *   messages passed by function calls (no sockets, no serialization: SecAgg+ does not run in
 *   the server's round loop yet). Every client and the server draw from
 *   `cryptoRandomSource()`. k = 2⌈log₂ n⌉ neighbours (14 for n = 100: 15 share holders per
 *   client) and the smallest threshold the module allows, a majority of the holders (8).
 *   Flower's quantization defaults. 10% of the clients, chosen at random, vanish after
 *   sharing keys and before their masked input arrives: the costly drop-out, since the
 *   server must rebuild their mask keys and strip their pairwise masks from the sum.
 *   `clientMs` is one client's own compute, the sum of its four handler calls (setup,
 *   share-keys, collect-masked with quantization and masking, unmask), median over the
 *   clients that finished the round; `serverMs` is the sum of the server's calls (create,
 *   every reply handled, the three closes and the finish that unmasks and decodes). Inputs
 *   are generated outside the timed calls. The unmasked mean must equal the plain weighted
 *   mean of the survivors within the quantization error, or the bench fails.
 * - Plain encrypted FedAvg: the real `FederationServer` with `encryptUpdates: true` on port 0
 *   in this process, and 100 real `FedkitClient`s over websockets in child processes
 *   (bench/round-clients.ts; their bare sockets connect to an idle socket.io server here and
 *   stay unused), each returning a fixed update at once. `plainRoundMs` is
 *   `RoundMetrics.durationMs` of the round after one warm-up round: sampling, sending the
 *   model, each client sealing (tweetnacl box + Ed25519 signature) and uploading its update,
 *   the server verifying and opening it, FedAvg, the new global model.
 *
 *     pnpm bench:secagg
 *     npx tsx bench/secagg.ts [--clients 100] [--params 1000000] [--neighbours 14] [--procs 4]
 *
 * The last line printed is one JSON object for tooling.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketIoServer } from 'socket.io';
import { cryptoRandomSource, seededRandomSource, type WeightsLayout } from '@fedkit/protocol';
import {
  DEFAULT_QUANTIZATION,
  clientHandleCollectMasked,
  clientHandleSetup,
  clientHandleShareKeys,
  clientHandleUnmask,
  createSecAggClient,
  createSecAggServer,
  neighbourGraphDegree,
  quantizeWeight,
  serverCloseCollectMasked,
  serverCloseSetup,
  serverCloseShareKeys,
  serverFinish,
  serverHandleReply,
  type SecAggClientState,
  type SecAggReply,
  type SecAggRequest,
  type SecAggResult,
} from '@fedkit/privacy/secagg';
import { FederationServer, createLogger, type ModelDefinition, type RoundMetrics } from '@fedkit/server';
import { forkClientProcesses } from './client-processes.js';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1]! : fallback;
}

const CLIENTS = Number(argument('clients', '100'));
const PARAMS = Number(argument('params', '1000000'));
const DROPOUT = 0.1;
const NEIGHBOURS = Number(argument('neighbours', String(2 * Math.ceil(Math.log2(CLIENTS)))));
const procs = Number(argument('procs', '4'));
for (const [name, value] of [['clients', CLIENTS], ['params', PARAMS], ['neighbours', NEIGHBOURS], ['procs', procs]] as const) {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${name} must be a positive integer, got ${value}`);
}
const CHUNK_BYTES = 512 * 1024;
const UPDATE_VALUE = 1 / 1024;

const fmt = (x: number, digits = 1): string => x.toFixed(digits);
const median = (xs: readonly number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

// ---- 1. one SecAgg+ round, in memory ----------------------------------------------------------

const params = DEFAULT_QUANTIZATION;
const ids = Array.from({ length: CLIENTS }, (_, i) => i + 1);
// The drop-outs: a seeded shuffle, so every run drops the same number at random places.
const shuffled = ids.slice();
const pick = seededRandomSource(2020);
for (let i = shuffled.length - 1; i > 0; i--) {
  const j = pick.nextUint32() % (i + 1);
  [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
}
const dropped = new Set(shuffled.slice(0, Math.round(DROPOUT * CLIENTS)));
const survivors = ids.filter((id) => !dropped.has(id));
const degree = neighbourGraphDegree(CLIENTS, NEIGHBOURS);
// The smallest the module accepts: a majority of the degree + 1 share holders.
const threshold = Math.floor((degree + 1) / 2) + 1;

/** Client id's input: an update uniform in [−1, 1] and a weight in [1, 1000] (never capped). */
function inputOf(id: number): { update: Float32Array; weight: number } {
  const random = seededRandomSource(7919 + id);
  const update = new Float32Array(PARAMS);
  for (let j = 0; j < PARAMS; j++) update[j] = random.nextFloat() * 2 - 1;
  return { update, weight: 1 + random.nextFloat() * 999 };
}

let serverMs = 0;
function onServer<T>(call: () => T): T {
  const start = performance.now();
  try {
    return call();
  } finally {
    serverMs += performance.now() - start;
  }
}
const clientMs = new Map<number, number[]>(ids.map((id) => [id, []]));
async function onClient<T>(id: number, call: () => T | Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await call();
  clientMs.get(id)!.push(performance.now() - start);
  return result;
}

console.log(
  `SecAgg+: ${CLIENTS} clients, P = ${PARAMS}, k = ${NEIGHBOURS} (degree ${degree}, ${degree + 1} share holders each), threshold ${threshold}, ` +
    `${dropped.size} drop out after sharing keys, before their masked input arrives`,
);
const { state: server, requests: setupRequests } = onServer(() =>
  createSecAggServer({ round: 1, clientIds: ids, threshold, neighbourCount: NEIGHBOURS, vectorLength: PARAMS, ...params }, cryptoRandomSource()),
);
const clients = new Map<number, SecAggClientState>(ids.map((id) => [id, createSecAggClient()]));
const randoms = new Map(ids.map((id) => [id, cryptoRandomSource()]));
// Σ rᵢ·Δᵢ over the survivors in float64, and Σ rᵢ: the plain weighted mean to check against.
const plainSum = new Float64Array(PARAMS);
let plainWeight = 0;
let inputMs = 0;

function deliver(reply: SecAggReply): void {
  onServer(() => serverHandleReply(server, reply));
}

const wallStart = performance.now();
let requests: SecAggRequest[] = setupRequests;
for (const request of requests) {
  if (request.kind !== 'secagg-setup') throw new Error(`expected setup requests, got ${request.kind}`);
  const id = request.to;
  deliver(await onClient(id, () => clientHandleSetup(clients.get(id)!, request, randoms.get(id)!)));
}
requests = onServer(() => serverCloseSetup(server));
for (const request of requests) {
  if (request.kind !== 'secagg-share-keys') throw new Error(`expected share-keys requests, got ${request.kind}`);
  const id = request.to;
  deliver(await onClient(id, () => clientHandleShareKeys(clients.get(id)!, request, randoms.get(id)!)));
}
requests = onServer(() => serverCloseShareKeys(server));
for (const request of requests) {
  if (request.kind !== 'secagg-collect-masked') throw new Error(`expected collect-masked requests, got ${request.kind}`);
  const id = request.to;
  if (dropped.has(id)) continue;
  const inputStart = performance.now();
  const input = inputOf(id);
  const r = quantizeWeight(input.weight, params).relative;
  plainWeight += r;
  for (let j = 0; j < PARAMS; j++) plainSum[j] = plainSum[j]! + r * input.update[j]!;
  inputMs += performance.now() - inputStart;
  const { message } = await onClient(id, () => clientHandleCollectMasked(clients.get(id)!, request, input, randoms.get(id)!));
  deliver(message);
}
requests = onServer(() => serverCloseCollectMasked(server));
for (const request of requests) {
  if (request.kind !== 'secagg-unmask') throw new Error(`expected unmask requests, got ${request.kind}`);
  const id = request.to;
  deliver(await onClient(id, () => clientHandleUnmask(clients.get(id)!, request)));
}
const finishStart = performance.now();
const result: SecAggResult = await serverFinish(server);
const finishMs = performance.now() - finishStart;
serverMs += finishMs;
const secaggWallMs = performance.now() - wallStart - inputMs;

// The check: same contributors, and the unmasked mean within the quantization error.
if (result.contributors.join() !== survivors.join()) {
  throw new Error(`contributors [${result.contributors.join(', ')}] differ from the survivors [${survivors.join(', ')}]`);
}
const step = (2 * params.clippingRange) / (params.quantizationRange - 1);
// Each survivor's stochastic rounding moves its word by less than one step; float32 rounding of a mean in [−1, 1] adds ≤ 2^−24.
const tolerance = (survivors.length * step) / plainWeight + 2 ** -24;
let worst = 0;
let squares = 0;
for (let j = 0; j < PARAMS; j++) {
  const error = Math.abs(result.weightedMean[j]! - plainSum[j]! / plainWeight);
  if (!(error <= worst)) worst = error;
  squares += error * error;
}
if (!(worst < tolerance)) throw new Error(`SecAgg+ mean differs from the plain weighted mean by ${worst}, tolerance ${tolerance}`);

const finished = survivors.map((id) => clientMs.get(id)!);
const totals = finished.map((stages) => stages.reduce((a, b) => a + b, 0));
const clientMedianMs = median(totals);
const clientMaxMs = Math.max(...totals);
const stageMedians = [0, 1, 2, 3].map((s) => median(finished.map((stages) => stages[s]!)));
console.log(
  `  client compute (the ${survivors.length} that finished): median ${fmt(clientMedianMs)} ms, max ${fmt(clientMaxMs)} ms; ` +
    `stage medians setup ${fmt(stageMedians[0]!)} / share-keys ${fmt(stageMedians[1]!)} / collect-masked ${fmt(stageMedians[2]!)} / unmask ${fmt(stageMedians[3]!)} ms`,
);
console.log(`  server compute: ${fmt(serverMs)} ms, of which finish (rebuild secrets, strip masks, decode) ${fmt(finishMs)} ms`);
console.log(`  whole round in one process, inputs excluded: ${fmt(secaggWallMs)} ms`);
console.log(
  `  unmasked mean vs plain weighted mean of the ${survivors.length} survivors: max |error| ${worst.toExponential(2)} ` +
    `(tolerance ${tolerance.toExponential(2)}), rms ${Math.sqrt(squares / PARAMS).toExponential(2)}; dropped [${result.dropped.join(', ')}]`,
);
plainSum.fill(0);
clients.clear();

// ---- 2. one plain encrypted FedAvg round over sockets -----------------------------------------

const layout: WeightsLayout = [{ name: 'dense/kernel', shape: [PARAMS] }];
const initialRandom = seededRandomSource(2017);
const initial = Float32Array.from({ length: PARAMS }, () => (initialRandom.nextFloat() * 2 - 1) * 0.05);
const model: ModelDefinition = { topology: null, layout, weights: initial };

// round-clients.ts also opens a bare socket per client for bench:round's baseline; here they
// connect to this idle server and are never used.
const bareHttp = createServer();
const bareIo = new SocketIoServer(bareHttp, { serveClient: false });
const barePort = await new Promise<number>((resolve) => bareHttp.listen(0, '127.0.0.1', () => resolve((bareHttp.address() as AddressInfo).port)));

const rounds: RoundMetrics[] = [];
const fedServer = new FederationServer({
  model,
  rounds: 2,
  minClients: CLIENTS,
  sampling: { fraction: 1, minFit: CLIENTS },
  evaluate: { every: 0 },
  maxRoundAttempts: 1,
  encryptUpdates: true,
  roundDeadlineMs: 600_000,
  transfer: { maxChunkBytes: CHUNK_BYTES, timeoutMs: 600_000 },
  logger: createLogger(process.env.FEDKIT_LOG_LEVEL ?? 'warn'),
});
fedServer.on('round', (metrics) => rounds.push(metrics));
const port = await fedServer.listen(0);

const children: ChildProcess[] = [];
await forkClientProcesses(
  {
    procs,
    clients: CLIENTS,
    serverUrl: `http://127.0.0.1:${port}`,
    bareUrl: `http://127.0.0.1:${barePort}`,
    params: PARAMS,
    chunkBytes: CHUNK_BYTES,
    updateValue: UPDATE_VALUE,
  },
  children,
);

const summary = await fedServer.run();
for (const child of children) child.send({ type: 'exit' });
await fedServer.close();
await new Promise<void>((resolve) => bareIo.close(() => resolve()));

const bad = rounds.filter((r) => r.status !== 'completed' || r.replied !== CLIENTS);
if (bad.length > 0 || summary.roundsCompleted !== 2) {
  throw new Error(`plain rounds failed: ${JSON.stringify(bad.map((r) => ({ round: r.round, reason: r.reason, failed: r.failed })))}`);
}
// Every client sent the same update, so FedAvg moved every weight by it once per round.
const final = fedServer.currentWeights();
if (Math.abs(final[PARAMS - 1]! - (initial[PARAMS - 1]! + 2 * UPDATE_VALUE)) > 1e-4) throw new Error(`final weight ${final[PARAMS - 1]} is off`);
const timed = rounds[1]!;
const plainRoundMs = timed.durationMs;
console.log(
  `plain encrypted FedAvg: ${CLIENTS} FedkitClients in ${procs} processes, P = ${PARAMS}, encryptUpdates: true; round after one warm-up: ` +
    `${fmt(plainRoundMs)} ms (warm-up ${fmt(rounds[0]!.durationMs)} ms), of which train phase ${fmt(timed.trainPhaseMs)} ms, aggregateTrain ${fmt(timed.aggregateMs)} ms`,
);
console.log(
  `targets (issue 3, 2 cores): client ≤ 2000 ms → ${fmt(clientMedianMs)} ms (max ${fmt(clientMaxMs)}), server ≤ 5000 ms → ${fmt(serverMs)} ms; ` +
    `SecAgg+ server compute is ${fmt(serverMs / plainRoundMs, 2)}x the plain encrypted round's wall time`,
);
console.log(
  JSON.stringify({
    bench: 'secagg',
    clients: CLIENTS,
    params: PARAMS,
    dropout: DROPOUT,
    clientMs: Number(fmt(clientMedianMs)),
    serverMs: Number(fmt(serverMs)),
    plainRoundMs: Number(fmt(plainRoundMs)),
  }),
);
