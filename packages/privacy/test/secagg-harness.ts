/**
 * An in-memory secure-aggregation round for the tests: one server state machine and n client
 * state machines passing messages through plain function calls, with drop-outs at chosen
 * stages and hooks that tamper with messages in flight. It records everything the server
 * receives, so privacy tests can inspect exactly the server's view.
 */
import { FedkitError, seededRandomSource, type RandomSource } from '@fedkit/protocol';
import {
  clientHandleCollectMasked,
  clientHandleSetup,
  clientHandleShareKeys,
  clientHandleUnmask,
  createSecAggClient,
  type SecAggClientState,
} from '../src/secagg/client-state.js';
import type { SecAggReply, SecAggRequest, SecAggStage } from '../src/secagg/messages.js';
import { quantizeWeight, type QuantizationParams } from '../src/secagg/quantize.js';
import {
  createSecAggServer,
  serverCloseCollectMasked,
  serverCloseSetup,
  serverCloseShareKeys,
  serverHandleMaskedSum,
  serverHandleReply,
  type SecAggServerState,
} from '../src/secagg/server-state.js';
import { addMaskedInput, emptyMaskedSum } from '../src/secagg/masked-sum.js';
import { wordsToBytes } from '../src/secagg/bytes.js';
import { serverFinish, type SecAggResult } from '../src/secagg/server-unmask.js';

export const STAGES: readonly SecAggStage[] = ['setup', 'share-keys', 'collect-masked', 'unmask'];

export interface Scenario {
  clients: number;
  threshold: number;
  neighbourCount?: number;
  vectorLength?: number;
  seed?: number;
  quantization?: Partial<QuantizationParams>;
  /** Clients that vanish before replying in a stage (and never come back). */
  dropAt?: Partial<Record<SecAggStage, readonly number[]>>;
  /** Per-client input; default: uniform in [−1, 1] and a weight in [1, 1500]. */
  input?: (id: number, random: RandomSource, length: number) => { update: Float32Array; weight: number };
  /** Rewrites a request before the client sees it (return it unchanged to pass it on). */
  onRequest?: (request: SecAggRequest, clients: ReadonlyMap<number, SecAggClientState>) => SecAggRequest;
  /** Rewrites a reply before the server sees it. */
  onReply?: (reply: SecAggReply) => SecAggReply;
  /**
   * Masked inputs summed in these groups (as the processes of a cluster do) and handed to
   * the server as one masked sum per group; clients in no group send their own.
   */
  maskedGroups?: readonly (readonly number[])[];
}

export interface Secrets {
  cipherSecretKey: Uint8Array;
  maskSecretKey: Uint8Array;
  selfMaskSeed: Uint8Array;
}

export interface Outcome {
  server: SecAggServerState;
  clients: Map<number, SecAggClientState>;
  inputs: Map<number, { update: Float32Array; weight: number }>;
  result: SecAggResult | undefined;
  /** The error that ended the round (an abort), if any. */
  error: FedkitError | undefined;
  /** Everything the server received, in order (replies it refused included). */
  transcript: SecAggReply[];
  /** Errors clients threw, by client id. */
  clientErrors: Map<number, FedkitError>;
  /** Errors the server threw while recording replies, by client id. */
  serverRejections: Map<number, FedkitError>;
  /** Each client's secrets, copied after share-keys (clients zero them after masking). */
  secrets: Map<number, Secrets>;
  /** Whether each client's weight was capped at maxWeight. */
  capped: Map<number, boolean>;
}

export async function runRound(scenario: Scenario): Promise<Outcome> {
  const seed = scenario.seed ?? 1;
  const n = scenario.clients;
  const vectorLength = scenario.vectorLength ?? 500;
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const randoms = new Map(ids.map((id) => [id, seededRandomSource(seed * 1000 + id)]));
  const makeInput = scenario.input ?? defaultInput;
  const inputs = new Map(ids.map((id) => [id, makeInput(id, seededRandomSource(seed * 7919 + id), vectorLength)]));
  const { state: server, requests: setup } = createSecAggServer(
    { round: seed, clientIds: ids, threshold: scenario.threshold, neighbourCount: scenario.neighbourCount, vectorLength, ...scenario.quantization },
    seededRandomSource(seed),
  );
  const clients = new Map(ids.map((id) => [id, createSecAggClient()]));
  const outcome: Outcome = {
    server, clients, inputs, result: undefined, error: undefined, transcript: [], clientErrors: new Map(),
    serverRejections: new Map(), secrets: new Map(), capped: new Map(),
  };
  const gone = new Set<number>();
  let requests: SecAggRequest[] = setup;
  const groupSums: ({ contributors: number[]; words: Uint32Array } | undefined)[] = [];
  try {
    for (const stage of STAGES) {
      for (const id of scenario.dropAt?.[stage] ?? []) gone.add(id);
      for (const original of requests) {
        if (gone.has(original.to)) continue;
        const request = scenario.onRequest ? scenario.onRequest(original, clients) : original;
        const client = clients.get(original.to)!;
        let reply: SecAggReply;
        try {
          reply = await answer(client, request, inputs.get(original.to)!, randoms.get(original.to)!, outcome);
        } catch (error) {
          outcome.clientErrors.set(original.to, asFedkit(error));
          continue;
        }
        if (stage === 'share-keys') outcome.secrets.set(client.id, snapshot(client));
        const delivered = scenario.onReply ? scenario.onReply(reply) : reply;
        outcome.transcript.push(delivered);
        const group = delivered.kind === 'secagg-masked' ? scenario.maskedGroups?.findIndex((g) => g.includes(delivered.from)) ?? -1 : -1;
        if (group >= 0 && delivered.kind === 'secagg-masked') {
          const sum = (groupSums[group] ??= { contributors: [], words: emptyMaskedSum(server.params) });
          addMaskedInput(sum.words, delivered.masked, server.params, `client ${delivered.from}`);
          sum.contributors.push(delivered.from);
          continue;
        }
        try {
          serverHandleReply(server, delivered);
        } catch (error) {
          outcome.serverRejections.set(original.to, asFedkit(error));
        }
      }
      for (const sum of groupSums.splice(0)) {
        if (sum !== undefined) serverHandleMaskedSum(server, { round: server.round, contributors: sum.contributors, masked: wordsToBytes(sum.words) });
      }
      if (stage === 'setup') requests = serverCloseSetup(server);
      else if (stage === 'share-keys') requests = serverCloseShareKeys(server);
      else if (stage === 'collect-masked') requests = serverCloseCollectMasked(server);
      else outcome.result = await serverFinish(server);
    }
  } catch (error) {
    outcome.error = asFedkit(error);
  }
  return outcome;
}

async function answer(
  client: SecAggClientState,
  request: SecAggRequest,
  input: { update: Float32Array; weight: number },
  random: RandomSource,
  outcome: Outcome,
): Promise<SecAggReply> {
  switch (request.kind) {
    case 'secagg-setup':
      return clientHandleSetup(client, request, random);
    case 'secagg-share-keys':
      return clientHandleShareKeys(client, request, random);
    case 'secagg-collect-masked': {
      const { message, weight } = await clientHandleCollectMasked(client, request, input, random);
      outcome.capped.set(client.id, weight.capped);
      return message;
    }
    case 'secagg-unmask':
      return clientHandleUnmask(client, request);
  }
}

function snapshot(client: SecAggClientState): Secrets {
  return { cipherSecretKey: client.cipherKeys!.secretKey.slice(), maskSecretKey: client.maskKeys!.secretKey.slice(), selfMaskSeed: client.selfMaskSeed!.slice() };
}

function asFedkit(error: unknown): FedkitError {
  if (error instanceof FedkitError) return error;
  throw error;
}

function defaultInput(_id: number, random: RandomSource, length: number): { update: Float32Array; weight: number } {
  return { update: Float32Array.from({ length }, () => random.nextFloat() * 2 - 1), weight: 1 + random.nextFloat() * 1499 };
}

/**
 * The plain weighted mean of the contributors' updates, weighted as uploaded (capped and
 * quantized), and the tolerance quantization allows: m·step / Σr per coordinate.
 */
export function plainWeightedMean(outcome: Outcome, params: QuantizationParams): { mean: Float64Array; tolerance: number } {
  const contributors = outcome.result!.contributors;
  const length = outcome.server.params.vectorLength;
  const mean = new Float64Array(length);
  let total = 0;
  for (const id of contributors) {
    const { update, weight } = outcome.inputs.get(id)!;
    const r = quantizeWeight(weight, params).relative;
    total += r;
    for (let j = 0; j < length; j++) mean[j] = mean[j]! + r * update[j]!;
  }
  for (let j = 0; j < length; j++) mean[j] = mean[j]! / total;
  const step = (2 * params.clippingRange) / (params.quantizationRange - 1);
  // Plus float32 rounding of the decoded mean (|mean| ≤ 1 here).
  return { mean, tolerance: (contributors.length * step) / total + 1e-7 };
}

/** Largest |a − b| over the coordinates. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** The code of the FedkitError `fn` throws, or undefined when it does not throw. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof FedkitError ? error.code : `not coded: ${String(error)}`;
  }
  return undefined;
}
