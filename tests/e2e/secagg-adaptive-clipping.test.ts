/**
 * Adaptive clipping under secure aggregation and distributed DP, end to end: a real server on
 * port 0 and real FedkitClients over sockets. Each client clips to the S of the train config,
 * adds its share of the update noise and of the clipped-count noise, and masks its update
 * with its noised clip indicator appended; the server unmasks only the sum, splits off the
 * count, moves S towards the target quantile and announces it in the next round. The model
 * learns a synthetic linear regression, ε is charged every round, and a client that vanishes
 * after masking is recovered (its update and indicator both in the sum).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { FedkitClient, type ClientSocket, type LocalTrainer } from '@fedkit/client-core';
import { adaptiveNoiseSplit, computeEpsilon } from '@fedkit/privacy';
import { seededRandomSource, type SecAggRequestMessage } from '@fedkit/protocol';
import { FederationServer, type FederationServerOptions, type ModelDefinition } from '@fedkit/server';
import { constantTrainer, nextEvent } from '../helpers/federation.js';

const P = 8;
const model: ModelDefinition = { topology: null, layout: [{ name: 'linear/kernel', shape: [P] }], weights: new Float32Array(P) };
/** The weights every client's data was generated with. */
const TARGET = Float32Array.from({ length: P }, (_, j) => Math.cos(1.7 * j + 0.3));

let server: FederationServer | undefined;
const sockets: ClientSocket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await server?.close();
  server = undefined;
});

/**
 * Client `i` fits y = x·w on its own 30 examples (x uniform in [−1, 1]^P, y = x·TARGET) with
 * full-batch gradient descent for `epochs` steps; the update is local − global.
 */
function regressionTrainer(i: number): LocalTrainer {
  const random = seededRandomSource(100 + i);
  const xs = Array.from({ length: 30 }, () => Float64Array.from({ length: P }, () => 2 * random.nextFloat() - 1));
  const ys = xs.map((x) => x.reduce((s, v, j) => s + v * TARGET[j]!, 0));
  const loss = (w: Float64Array) => xs.reduce((s, x, k) => s + (x.reduce((a, v, j) => a + v * w[j]!, 0) - ys[k]!) ** 2, 0) / xs.length;
  return {
    numExamples: xs.length,
    numEvalExamples: 0,
    async prepare() {},
    async train(global, config) {
      const w = Float64Array.from(global);
      const before = loss(w);
      for (let step = 0; step < config.epochs; step++) {
        const grad = new Float64Array(P);
        xs.forEach((x, k) => {
          const err = x.reduce((a, v, j) => a + v * w[j]!, 0) - ys[k]!;
          for (let j = 0; j < P; j++) grad[j]! += (2 * err * x[j]!) / xs.length;
        });
        for (let j = 0; j < P; j++) w[j]! -= config.learningRate * grad[j]!;
      }
      return { update: Float32Array.from(w, (v, j) => v - global[j]!), numExamples: xs.length, metrics: { loss: before } };
    },
    async evaluate() {
      return { loss: 0, accuracy: 0, numExamples: 0 };
    },
  };
}

/** A real FedkitClient; `onSecAgg` sees each secagg request first (to vanish at a stage). */
async function join(url: string, clientId: string, trainer: LocalTrainer, onSecAgg?: (msg: SecAggRequestMessage, socket: ClientSocket) => void): Promise<FedkitClient> {
  const socket = io(url, { transports: ['websocket'], autoConnect: false, reconnection: false, forceNew: true }) as ClientSocket;
  sockets.push(socket);
  if (onSecAgg) socket.on('secagg', (msg) => onSecAgg(msg, socket));
  const client = new FedkitClient({ socket, clientId, trainer, platform: 'node', backend: 'test' });
  const joined = nextEvent((listener) => client.on('joined', listener));
  void client.start().catch(() => undefined);
  await joined;
  return client;
}

async function start(options: Partial<FederationServerOptions>): Promise<string> {
  server = new FederationServer({
    model,
    random: seededRandomSource(3),
    allowSeededRandom: true,
    minClients: 6,
    sampling: { fraction: 1, minFit: 5 },
    evaluate: { every: 0 },
    roundDeadlineMs: 20_000,
    maxRoundAttempts: 1,
    train: { epochs: 5, batchSize: null, learningRate: 0.1 },
    secureAggregation: { enabled: true },
    ...options,
  });
  return `http://127.0.0.1:${await server.listen(0)}`;
}

const distance = (w: ArrayLike<number>) => Math.sqrt(Array.from(TARGET, (t, j) => (w[j]! - t) ** 2).reduce((a, b) => a + b, 0));

describe('adaptive clipping under secure aggregation (distributed DP)', () => {
  it('learns a linear regression while S grows towards the update norms, charges ε every round, and recovers a client lost after masking', async () => {
    const rounds = 12;
    const privacy = { mode: 'distributed' as const, noiseMultiplier: 0.3, expectedClients: 6, adaptiveClipping: { initialClipNorm: 0.05, clipLearningRate: 1 } };
    const url = await start({ rounds, privacy });
    // Seven clients join before the run, so round 1 samples all seven; c7 vanishes after
    // sending its masked input in round 1 and the other six carry on.
    for (let i = 1; i <= 6; i++) await join(url, `c${i}`, regressionTrainer(i));
    await join(url, 'c7', regressionTrainer(7), (msg, socket) => void (msg.stage === 'unmask' && socket.disconnect()));
    const result = await server!.run();

    expect(result.roundsCompleted).toBe(rounds);
    const first = result.rounds[0]!;
    expect(first.replied).toBe(7); // c7's update and indicator are in the unmasked sum
    expect(first.failed.map((f) => f.clientId)).toEqual(['c7']);
    expect(result.rounds.slice(1).every((r) => r.replied === 6)).toBe(true);

    // Every early update is longer than S (b̄ ≈ 0 < γ = ½), so S grows by ≈ e^{η/2} a round.
    const clips = result.rounds.map((r) => r.train.dpClipNorm!);
    expect(clips[0]).toBe(0.05);
    for (let r = 1; r <= 3; r++) expect(clips[r]! / clips[r - 1]!).toBeGreaterThan(Math.exp(0.5 - 0.3));
    expect(result.rounds.every((r) => typeof r.train.dpUnclippedFraction === 'number')).toBe(true);
    expect(server!.status().privacy.roundsCharged).toBe(rounds);

    // The model learns: much closer to the generating weights than the zero start.
    expect(distance(server!.currentWeights())).toBeLessThan(0.35 * distance(model.weights));

    // ε is charged every round: with all six of m = 6 in, at z_total (the count noise included).
    const eps = result.rounds.map((r) => r.privacy!.epsilon);
    expect(eps.every((e, i) => i === 0 || e > eps[i - 1]!)).toBe(true);
    const last = result.rounds[rounds - 1]!;
    expect(last.privacy!.lastRound!.noiseMultiplier).toBeCloseTo(0.3, 12);
    // Round 1 had seven contributors: its sum carries more noise, z_total·√(7/6).
    expect(first.train.dpNoiseMultiplier).toBeCloseTo(0.3 * Math.sqrt(7 / 6), 12);
    // Clients were told the update's share of the budget, z = (z_total⁻² − (2σ_b)⁻²)^(−½) > z_total.
    expect(adaptiveNoiseSplit({ noiseMultiplier: 0.3, expectedClients: 6 }).updateNoiseMultiplier).toBeGreaterThan(0.3);
    // Round 1 sampled m = 6 of the 7 available (q = 6/7) and released z_total·√(7/6).
    const once = computeEpsilon({ samplingRate: 6 / 7, noiseMultiplier: 0.3 * Math.sqrt(7 / 6), steps: 1, delta: 1e-5 }).epsilon;
    expect(eps[0]).toBeCloseTo(once, 6);
  });

  it.each([
    [0.2, 'shrinks'],
    [0.8, 'grows'],
  ])('with update norms 0.5 … 3 and S = 1.75 (half unclipped), target quantile %s: S %s', async (targetQuantile, direction) => {
    const url = await start({ rounds: 3, privacy: { mode: 'distributed', noiseMultiplier: 0.3, expectedClients: 6, adaptiveClipping: { initialClipNorm: 1.75, targetQuantile } } });
    // Constant updates of norm k/2 (k = 1 … 6): the value per coordinate times √P.
    for (let k = 1; k <= 6; k++) await join(url, `c${k}`, constantTrainer(k / 2 / Math.sqrt(P)));
    const result = await server!.run();
    expect(result.roundsCompleted).toBe(3);
    const clips = result.rounds.map((r) => r.train.dpClipNorm!);
    for (let r = 1; r < clips.length; r++) {
      if (direction === 'grows') expect(clips[r]).toBeGreaterThan(clips[r - 1]!);
      else expect(clips[r]).toBeLessThan(clips[r - 1]!);
    }
    // b̄ is the noised half (three norms ≤ 1.75); the count noise on it is σ_b/m = 0.05.
    expect(Math.abs(result.rounds[0]!.train.dpUnclippedFraction! - 0.5)).toBeLessThan(0.25);
  });

  it('refuses what cannot work, naming the field: mode central (the server sees no update), local adaptive clipping, a quantization range too small for the count', () => {
    const make = (overrides: Partial<FederationServerOptions>) => () =>
      new FederationServer({ model, minClients: 6, sampling: { fraction: 1, minFit: 4 }, allowSeededRandom: true, secureAggregation: { enabled: true }, ...overrides });
    expect(make({ privacy: { mode: 'central', noiseMultiplier: 0.3, expectedClients: 6, adaptiveClipping: true } })).toThrow(
      expect.objectContaining({ code: 'config-invalid', message: expect.stringMatching(/field "privacy.mode": "central" clips \(and, with adaptiveClipping, counts\) each update on the server/) }),
    );
    expect(make({ privacy: { mode: 'local', clipNorm: 1, noiseMultiplier: 0.3, adaptiveClipping: true } })).toThrow(/field "privacy.adaptiveClipping": is only for modes "central" and "distributed"/);
    const distributed = { mode: 'distributed' as const, noiseMultiplier: 0.3, expectedClients: 6, adaptiveClipping: true };
    expect(make({ privacy: distributed, secureAggregation: { enabled: true, quantization: { maxWeight: 1, clippingRange: 1 } } })).toThrow(
      expect.objectContaining({ code: 'config-invalid', message: expect.stringMatching(/field "secureAggregation.quantization.clippingRange": .*clipped-count coordinate/) }),
    );
    expect(make({ privacy: { ...distributed, adaptiveClipping: { targetQuantile: 1.5 } } })).toThrow(/field "privacy.adaptiveClipping.targetQuantile"/);
    expect(make({ privacy: distributed })).not.toThrow();
  });
});
