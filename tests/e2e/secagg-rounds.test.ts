/**
 * Secure aggregation (SecAgg+) in real rounds: a real server on port 0 and real FedkitClients
 * over sockets. Clients keep their updates and answer the four `secagg` stages; the server
 * learns only the unmasked weighted mean, which FedAvg then applies. Drop-outs after masking
 * are recovered, too few clients abort the round with the model unchanged, malformed replies
 * get coded errors, and a recording of everything the server receives shows no individual
 * update in it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { FedkitClient, type ClientSocket, type LocalTrainer } from '@fedkit/client-core';
import { PROTOCOL_VERSION, seededRandomSource, type AckReply, type SecAggRequestMessage } from '@fedkit/protocol';
import { DEFAULT_QUANTIZATION, quantizeWeight } from '@fedkit/privacy/secagg';
import { FederationServer, type FederationServerOptions, type ModelDefinition } from '@fedkit/server';
import { rawSocket } from '../helpers/federation.js';

const P = 600;
const model: ModelDefinition = {
  topology: null,
  layout: [{ name: 'dense/kernel', shape: [P] }],
  weights: Float32Array.from({ length: P }, (_, j) => Math.cos(j) * 0.1),
};

let server: FederationServer | undefined;
const sockets: ClientSocket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await server?.close();
  server = undefined;
});

/** Client i's update: a distinct smooth pattern, different for every client. */
function updateOf(i: number): Float32Array {
  return Float32Array.from({ length: P }, (_, j) => 0.5 * Math.sin(0.37 * i * (j + 1) + i));
}

function trainer(i: number, numExamples: number): LocalTrainer {
  return {
    numExamples,
    numEvalExamples: 0,
    async prepare() {},
    async train() {
      return { update: updateOf(i), numExamples, metrics: { loss: 1 } };
    },
    async evaluate() {
      return { loss: 1, accuracy: 0.5, numExamples: 0 };
    },
  };
}

async function startSecAggServer(overrides: Partial<FederationServerOptions> = {}): Promise<string> {
  server = new FederationServer({
    model,
    random: seededRandomSource(7),
    rounds: 1,
    minClients: 6,
    sampling: { fraction: 1, minFit: 3 },
    evaluate: { every: 0 },
    roundDeadlineMs: 20_000,
    maxRoundAttempts: 1,
    secureAggregation: { enabled: true },
    ...overrides,
  });
  const port = await server.listen(0);
  return `http://127.0.0.1:${port}`;
}

/**
 * A real FedkitClient; `onSecAgg` sees each secagg request before the client does (to
 * make it vanish at a chosen stage).
 */
function client(url: string, i: number, numExamples: number, onSecAgg?: (msg: SecAggRequestMessage, socket: ClientSocket) => void): FedkitClient {
  const socket = io(url, { transports: ['websocket'], autoConnect: false, reconnection: false, forceNew: true }) as ClientSocket;
  sockets.push(socket);
  if (onSecAgg) socket.on('secagg', (msg) => onSecAgg(msg, socket));
  const c = new FedkitClient({ socket, clientId: `c${i}`, trainer: trainer(i, numExamples), platform: 'node', backend: 'test' });
  void c.start().catch(() => undefined);
  return c;
}

/** global + Σ rᵢΔᵢ / Σ rᵢ with the weights as quantized for upload. */
function expectedModel(members: readonly { i: number; n: number }[]): Float64Array {
  const out = new Float64Array(P);
  let total = 0;
  for (const { i, n } of members) {
    const r = quantizeWeight(n, DEFAULT_QUANTIZATION).relative;
    total += r;
    const u = updateOf(i);
    for (let j = 0; j < P; j++) out[j]! += r * u[j]!;
  }
  for (let j = 0; j < P; j++) out[j] = model.weights[j]! + out[j]! / total;
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!));
  return worst;
}

/** Quantization error bound of the mean: one step per contributor over Σ r, plus float32 rounding. */
function tolerance(contributors: number, weightSum: number): number {
  const step = (2 * DEFAULT_QUANTIZATION.clippingRange) / (DEFAULT_QUANTIZATION.quantizationRange - 1);
  return (contributors * step) / weightSum + 1e-6;
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let ma = 0;
  let mb = 0;
  for (let j = 0; j < n; j++) {
    ma += a[j]!;
    mb += b[j]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let j = 0; j < n; j++) {
    sab += (a[j]! - ma) * (b[j]! - mb);
    saa += (a[j]! - ma) ** 2;
    sbb += (b[j]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

const members = [1, 2, 3, 4, 5, 6].map((i) => ({ i, n: 20 * i + 3 }));

describe('secure aggregation rounds', () => {
  it('six clients: the model moves by the weighted mean of their updates, within the quantization error', async () => {
    const url = await startSecAggServer({ rounds: 2 });
    const summary = server!.run();
    for (const { i, n } of members) client(url, i, n);
    const result = await summary;
    expect(result.rounds.map((r) => [r.status, r.replied])).toEqual([
      ['completed', 6],
      ['completed', 6],
    ]);
    // Two rounds of the same updates: global + 2·mean.
    const once = expectedModel(members);
    const twice = once.map((w, j) => w + (w - model.weights[j]!));
    const weightSum = members.reduce((s, m) => s + quantizeWeight(m.n, DEFAULT_QUANTIZATION).relative, 0);
    expect(maxAbsDiff(server!.currentWeights(), twice)).toBeLessThanOrEqual(2 * tolerance(6, weightSum));
    expect(server!.status().clients.total).toBe(6);
  });

  it('recovers a client that vanishes after masking and one that vanishes before', async () => {
    const url = await startSecAggServer();
    const summary = server!.run();
    for (const { i, n } of members) {
      if (i === 2) client(url, i, n, (msg, socket) => void (msg.stage === 'unmask' && socket.disconnect()));
      else if (i === 5) client(url, i, n, (msg, socket) => void (msg.stage === 'collect-masked' && socket.disconnect()));
      else client(url, i, n);
    }
    const result = await summary;
    const round = result.rounds[0]!;
    expect(round.status).toBe('completed');
    // Client 2's masked input is in the sum (its self mask rebuilt from shares); client 5's is not.
    expect(round.replied).toBe(5);
    expect(round.failed.map((f) => f.clientId).sort()).toEqual(['c2', 'c5']);
    const contributors = members.filter((m) => m.i !== 5);
    const weightSum = contributors.reduce((s, m) => s + quantizeWeight(m.n, DEFAULT_QUANTIZATION).relative, 0);
    expect(maxAbsDiff(server!.currentWeights(), expectedModel(contributors))).toBeLessThanOrEqual(tolerance(5, weightSum));
  });

  it('below the threshold the round aborts cleanly and the model is unchanged', async () => {
    const url = await startSecAggServer({ minClients: 4, sampling: { fraction: 1, minFit: 2 } });
    const summary = server!.run();
    for (const { i, n } of members.slice(0, 4)) {
      if (i <= 2) client(url, i, n, (msg, socket) => void (msg.stage === 'share-keys' && socket.disconnect()));
      else client(url, i, n);
    }
    const result = await summary;
    expect(result.reason).toBe('stopped');
    expect(result.rounds).toHaveLength(1);
    expect(result.rounds[0]!.status).toBe('failed');
    expect(result.rounds[0]!.reason).toMatch(/secure aggregation aborted: .*threshold is 3/);
    expect(Array.from(server!.currentWeights())).toEqual(Array.from(model.weights));
    expect(server!.modelVersion).toBe(0);
  });

  it('nothing the server receives carries an individual update', async () => {
    const url = await startSecAggServer();
    const received: { event: string; args: unknown[] }[] = [];
    server!.io.on('connection', (socket) => socket.onAny((event: string, ...args: unknown[]) => received.push({ event, args })));
    const summary = server!.run();
    for (const { i, n } of members) client(url, i, n);
    expect((await summary).rounds[0]!.status).toBe('completed');

    const events = new Set(received.map((r) => r.event));
    expect(events.has('train-result')).toBe(false);
    // Every binary blob the server got, reassembled per transfer.
    const transfers = new Map<string, Uint8Array[]>();
    const blobs: Uint8Array[] = [];
    const collect = (value: unknown, depth = 0): void => {
      if (value instanceof Uint8Array) blobs.push(value);
      else if (typeof value === 'object' && value !== null && depth < 6) for (const v of Object.values(value)) collect(v, depth + 1);
    };
    for (const { event, args } of received) {
      if (event === 'chunk') {
        const chunk = args[0] as { transferId: string; data: Uint8Array };
        transfers.set(chunk.transferId, [...(transfers.get(chunk.transferId) ?? []), chunk.data]);
      } else collect(args[0]);
    }
    const vectors = [...transfers.values()].map((parts) => Buffer.concat(parts));
    expect(vectors).toHaveLength(6);
    expect(vectors.every((v) => v.byteLength === 4 * (P + 1))).toBe(true);
    for (const bytes of [...vectors, ...blobs]) {
      const aligned = new Uint8Array(bytes).buffer;
      const asWords = new Uint32Array(aligned, 0, Math.floor(aligned.byteLength / 4));
      const asFloats = new Float32Array(aligned, 0, Math.floor(aligned.byteLength / 4));
      for (const { i, n } of members) {
        const u = updateOf(i);
        const r = quantizeWeight(n, DEFAULT_QUANTIZATION).relative;
        // The client's quantized, weighted update (before masking) and its raw floats.
        const c = DEFAULT_QUANTIZATION.clippingRange;
        const quantized = Float64Array.from(u, (x) => ((r * x + c) * (DEFAULT_QUANTIZATION.quantizationRange - 1)) / (2 * c));
        if (asWords.length > P) expect(Math.abs(pearson(asWords.subarray(1), quantized))).toBeLessThan(0.25);
        if (asFloats.length >= P) {
          let equal = 0;
          for (let j = 0; j < P; j++) if (Math.abs(asFloats[j]! - u[j]!) <= 1e-6) equal++;
          expect(equal).toBeLessThan(P / 100);
        }
      }
    }
  });

  it('a malformed secagg reply gets a coded error and the round completes without that client', async () => {
    const url = await startSecAggServer({ minClients: 7 });
    const summary = server!.run();
    for (const { i, n } of members) client(url, i, n);
    const raw = rawSocket(url);
    sockets.push(raw);
    const setup = new Promise<SecAggRequestMessage>((resolve) => raw.on('secagg', (msg) => resolve(msg)));
    raw.connect();
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    const hello = (await raw.emitWithAck('hello', { protocolVersion: PROTOCOL_VERSION, clientId: 'raw', numExamples: 5, numEvalExamples: 0, platform: 'node', backend: 'raw' })) as { ok: boolean };
    expect(hello.ok).toBe(true);
    const request = await setup;
    const to = (request.payload as { to: number }).to;
    const send = (payload: unknown, stage = 'setup') =>
      raw.emitWithAck('secagg-reply', { round: request.round, stage, payload } as never) as Promise<AckReply>;
    expect(await send({ kind: 'secagg-keys', round: request.round, from: to, cipherPublicKey: 'not bytes', maskPublicKey: new Uint8Array(32) })).toMatchObject({
      ok: false,
      error: { code: 'invalid-message', message: expect.stringContaining('cipherPublicKey') },
    });
    expect(await send({ whatever: true }, 'no-such-stage')).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    // A plain update is never accepted under secure aggregation.
    expect(await raw.emitWithAck('train-result', { round: request.round, transferId: 'u-raw', numExamples: 5, layout: model.layout.map((t) => ({ name: t.name, shape: [...t.shape] })), metrics: {} })).toMatchObject({
      ok: false,
      error: { code: 'invalid-message', message: expect.stringContaining('secure aggregation') },
    });
    // Having been refused once, the client is out of the round.
    expect(await send({ kind: 'secagg-keys', round: request.round, from: to, cipherPublicKey: new Uint8Array(32).fill(1), maskPublicKey: new Uint8Array(32).fill(2) })).toMatchObject({
      ok: false,
      error: { code: 'round-closed' },
    });
    const round = (await summary).rounds[0]!;
    expect(round.status).toBe('completed');
    expect(round.replied).toBe(6);
    expect(round.failed.map((f) => [f.clientId, f.code])).toEqual([['raw', 'invalid-message']]);
    const weightSum = members.reduce((s, m) => s + quantizeWeight(m.n, DEFAULT_QUANTIZATION).relative, 0);
    expect(maxAbsDiff(server!.currentWeights(), expectedModel(members))).toBeLessThanOrEqual(tolerance(6, weightSum));
  });

  it('runs distributed DP under secure aggregation and charges the accountant', async () => {
    const url = await startSecAggServer({
      allowSeededRandom: true,
      privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 0.5, expectedClients: 6 },
    });
    const summary = server!.run();
    for (const { i, n } of members) client(url, i, n);
    const round = (await summary).rounds[0]!;
    expect(round.status).toBe('completed');
    expect(round.replied).toBe(6);
    expect(round.privacy?.mode).toBe('distributed');
    expect(round.privacy?.epsilon).toBeGreaterThan(0);
    expect(server!.status().privacy.roundsCharged).toBe(1);
  });

  it('refuses bad secure-aggregation options and distributed DP without them', () => {
    const make = (overrides: Partial<FederationServerOptions>) => () => new FederationServer({ model, minClients: 6, sampling: { fraction: 1, minFit: 4 }, ...overrides });
    expect(make({ secureAggregation: { enabled: true, threshold: 2 } })).toThrow(/field "secureAggregation.threshold"/);
    expect(make({ secureAggregation: { enabled: true, quantization: { modulusBits: 8 } } })).toThrow(/field "secureAggregation/);
    expect(make({ privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 1, expectedClients: 6 } })).toThrow(/secure aggregation/);
  });
});
