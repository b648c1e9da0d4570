/**
 * What Fedkit adds to one FedAvg round: 20 Node clients, the paper's CNN size
 * (P = 1,663,370 floats = 6.65 MB, REFERENCE §1), training replaced by a trainer that returns
 * a fixed update at once, against the time bare socket.io needs to move the same bytes.
 *
 * - Fedkit: the real `FederationServer` on port 0 in this process; 20 real `FedkitClient`s
 *   over websockets in child processes (bench/round-clients.ts), so that the server's event
 *   loop is its own. `roundMs` is `RoundMetrics.durationMs`: from sampling to the new global
 *   model (send, CRC, parse, reassembly, validation, streaming FedAvg, aggregateTrain).
 *   `trainPhaseMs` (first send to last accepted reply) is printed beside it.
 * - Transfer only: a bare socket.io server in this process, with the same limits, sends each
 *   bare socket in the same child processes the same model bytes as chunk events of the same
 *   size (websocket, binary attachments); each sends as many bytes back the same way. Time
 *   from the first send to the last chunk received.
 *
 * Repetitions are interleaved (one Fedkit round, then one transfer) so that load on this
 * shared machine hits both alike; the first ones warm up and are dropped, the rest give
 * medians. The transfer runs in the server's `centralEvaluate` hook, which the server awaits
 * after computing the round's metrics and before starting the next round.
 *
 *     pnpm bench:round
 *     npx tsx bench/round.ts --procs 2 --reps 9
 *
 * The last line printed is one JSON object for tooling.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketIoServer, type Socket } from 'socket.io';
import { FederationServer, createLogger, type ModelDefinition, type RoundMetrics } from '@fedkit/server';
import { encodeFloat32, seededRandomSource, type WeightsLayout } from '@fedkit/protocol';
import type { BareChunk } from './round-clients.js';
import { forkClientProcesses } from './client-processes.js';

const PARAMS = 1_663_370;
const CLIENTS = 20;
const CHUNK_BYTES = 512 * 1024;
const UPDATE_VALUE = 1 / 1024;

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1]! : fallback;
}

const procs = Number(argument('procs', '4'));
const warmup = Number(argument('warmup', '3'));
const reps = Number(argument('reps', '9'));
for (const [name, value] of [['procs', procs], ['warmup', warmup], ['reps', reps]] as const) {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${name} must be a positive integer, got ${value}`);
}

/** The paper's CNN ('same' padding), with the tensor names of `createMnistCnn`. */
const layout: WeightsLayout = [
  { name: 'cnn_conv1/kernel', shape: [5, 5, 1, 32] },
  { name: 'cnn_conv1/bias', shape: [32] },
  { name: 'cnn_conv2/kernel', shape: [5, 5, 32, 64] },
  { name: 'cnn_conv2/bias', shape: [64] },
  { name: 'cnn_dense/kernel', shape: [3136, 512] },
  { name: 'cnn_dense/bias', shape: [512] },
  { name: 'cnn_output/kernel', shape: [512, 10] },
  { name: 'cnn_output/bias', shape: [10] },
];
const random = seededRandomSource(2017);
const initial = Float32Array.from({ length: PARAMS }, () => (random.nextFloat() * 2 - 1) * 0.05);
const model: ModelDefinition = { topology: null, layout, weights: initial };

// ---- the bare socket.io server -------------------------------------------------------------

const bareHttp = createServer();
const bareIo = new SocketIoServer(bareHttp, { maxHttpBufferSize: CHUNK_BYTES + 64 * 1024, serveClient: false });
const bareSockets: Socket[] = [];
let onBareClientDone: () => void = () => undefined;
bareIo.on('connection', (socket) => {
  bareSockets.push(socket);
  let received = 0;
  socket.on('chunk', (chunk: BareChunk) => {
    if (++received < chunk.count) return;
    received = 0;
    onBareClientDone();
  });
});

const modelBytes = encodeFloat32(initial);
const bareChunks: BareChunk[] = [];
const chunkCount = Math.ceil(modelBytes.byteLength / CHUNK_BYTES);
for (let index = 0; index < chunkCount; index++) {
  const data = modelBytes.subarray(index * CHUNK_BYTES, Math.min(modelBytes.byteLength, (index + 1) * CHUNK_BYTES));
  bareChunks.push({ index, count: chunkCount, data });
}

/** One transfer-only repetition: model out to every bare socket, as many bytes back; ms. */
async function transferOnly(): Promise<number> {
  let pending = bareSockets.length;
  const done = new Promise<void>((resolve) => {
    onBareClientDone = () => {
      if (--pending === 0) resolve();
    };
  });
  const start = performance.now();
  for (const socket of bareSockets) for (const chunk of bareChunks) socket.emit('chunk', chunk);
  await done;
  return performance.now() - start;
}

// ---- the Fedkit server and the client processes -----------------------------------------------

const transferMs: number[] = [];
const rounds: RoundMetrics[] = [];
const children: ChildProcess[] = [];

let cpuRequest = 0;
/** CPU time (user + system, ms) of this process and of all client processes, so far. */
async function cpuNow(): Promise<{ server: number; clients: number }> {
  const id = ++cpuRequest;
  const replies = children.map(
    (child) =>
      new Promise<number>((resolve) => {
        const listener = (message: { type?: string; id?: number; ms?: number }): void => {
          if (message.type !== 'cpu' || message.id !== id) return;
          child.off('message', listener);
          resolve(message.ms ?? 0);
        };
        child.on('message', listener);
        child.send({ type: 'cpu', id });
      }),
  );
  const { user, system } = process.cpuUsage();
  const clients = (await Promise.all(replies)).reduce((a, b) => a + b, 0);
  return { server: (user + system) / 1000, clients };
}
/** CPU ms per repetition, [server, clients]: Fedkit rounds (from the end of one hook to the start of the next) and transfers. */
const roundCpu: [number, number][] = [];
const transferCpu: [number, number][] = [];
let lastHookEnd: { server: number; clients: number } | null = null;
const server = new FederationServer({
  model,
  rounds: warmup + reps,
  minClients: CLIENTS,
  sampling: { fraction: 1, minFit: CLIENTS },
  evaluate: { every: 0 },
  maxRoundAttempts: 1,
  random: seededRandomSource(1),
  logger: createLogger(process.env.FEDKIT_LOG_LEVEL ?? 'warn'),
  // Runs after the round's metrics are taken and before the next round: the interleaving point.
  centralEvaluate: async () => {
    const before = await cpuNow();
    if (lastHookEnd !== null) roundCpu.push([before.server - lastHookEnd.server, before.clients - lastHookEnd.clients]);
    transferMs.push(await transferOnly());
    lastHookEnd = await cpuNow();
    transferCpu.push([lastHookEnd.server - before.server, lastHookEnd.clients - before.clients]);
    return { loss: 0, accuracy: 0, numExamples: 0 };
  },
});
server.on('round', (metrics) => rounds.push(metrics));
const port = await server.listen(0);
const barePort = await new Promise<number>((resolve) => bareHttp.listen(0, '127.0.0.1', () => resolve((bareHttp.address() as AddressInfo).port)));

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
lastHookEnd = null;
if (bareSockets.length !== CLIENTS) throw new Error(`expected ${CLIENTS} bare sockets, got ${bareSockets.length}`);

const summary = await server.run();
for (const child of children) child.send({ type: 'exit' });
await server.close();
await new Promise<void>((resolve) => bareIo.close(() => resolve()));

// ---- checks and report ------------------------------------------------------------------------

const bad = rounds.filter((r) => r.status !== 'completed' || r.replied !== CLIENTS);
if (bad.length > 0 || summary.roundsCompleted !== warmup + reps) {
  throw new Error(`rounds failed: ${JSON.stringify(bad.map((r) => ({ round: r.round, reason: r.reason, failed: r.failed })))}`);
}
// Every client sent the same update, so FedAvg moved every weight by it once per round.
const final = server.currentWeights();
const expected = initial[PARAMS - 1]! + UPDATE_VALUE * (warmup + reps);
if (Math.abs(final[PARAMS - 1]! - expected) > 1e-4) throw new Error(`final weight ${final[PARAMS - 1]} differs from ${expected}`);

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const timed = rounds.slice(warmup);
const roundMs = median(timed.map((r) => r.durationMs));
const trainPhaseMs = median(timed.map((r) => r.trainPhaseMs));
const aggregateMs = median(timed.map((r) => r.aggregateMs));
const transferOnlyMs = median(transferMs.slice(warmup));
const ratio = roundMs / transferOnlyMs;
const movedMb = (2 * CLIENTS * modelBytes.byteLength) / 1e6;
const fmt = (x: number, digits = 1): string => x.toFixed(digits);
const list = (xs: number[]): string => xs.map((x) => fmt(x, 0)).join(' ');

console.log(`round: ${CLIENTS} clients in ${procs} processes, P = ${PARAMS} (${fmt(modelBytes.byteLength / 1e6, 2)} MB each way per client, ${chunkCount} chunks of ${CHUNK_BYTES} B), ${reps} reps after ${warmup} warm-up, interleaved`);
console.log(`  Fedkit round (durationMs, sampling → new model): median ${fmt(roundMs)} ms [${list(timed.map((r) => r.durationMs))}]`);
console.log(`    of which train phase (first send → last reply): median ${fmt(trainPhaseMs)} ms, aggregateTrain: median ${fmt(aggregateMs)} ms`);
console.log(`  bare socket.io, same bytes, same chunks: median ${fmt(transferOnlyMs)} ms [${list(transferMs.slice(warmup))}] → ${fmt(movedMb / (transferOnlyMs / 1000), 0)} MB/s`);
// Round r's CPU is only known from round 2 on (it is measured between hooks).
const cpuLine = (cpu: [number, number][]): string =>
  `server ${fmt(median(cpu.map((c) => c[0])), 0)} ms, clients ${fmt(median(cpu.map((c) => c[1])), 0)} ms`;
console.log(`  CPU per repetition (medians): Fedkit round ${cpuLine(roundCpu.slice(warmup - 1))}; transfer only ${cpuLine(transferCpu.slice(warmup))}`);
console.log(`  ratio ${fmt(ratio, 3)} (target ≤ 1.3)`);
console.log(JSON.stringify({ bench: 'round', clients: CLIENTS, params: PARAMS, roundMs: Number(fmt(roundMs)), transferOnlyMs: Number(fmt(transferOnlyMs)), ratio: Number(fmt(ratio, 3)) }));
