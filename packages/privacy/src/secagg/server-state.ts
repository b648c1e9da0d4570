/**
 * The server side of SecAgg / SecAgg+ as an explicit state machine. The server routes keys
 * and encrypted shares, sums masked vectors, and in the end asks each survivor for exactly
 * one kind of share per client it must unmask. It never sees an update in the clear.
 *
 * Driving it: `createSecAggServer` gives the setup requests; feed every reply to
 * `serverHandleReply` (a rejected reply throws a coded error and changes nothing: count that
 * client as dropped); when all expected replies are in or the deadline passes, call the
 * stage's close function for the next requests, and `serverFinish` after unmask. A close
 * that finds fewer than `threshold` clients where they are needed aborts the round
 * (`stage: 'aborted'`, `FedkitError('secagg-too-few-clients')`): no result, model unchanged.
 *
 * Drop-outs are handled where they happen: before any share has been routed (setup,
 * share-keys) a client whose holders fell below the threshold is simply left out; after
 * masking, a vanished client's pairwise masks are removed with its rebuilt mask key, and a
 * survivor's self mask with its rebuilt seed.
 */
import type { RandomSource } from '@fedkit/protocol';
import { toHex } from './bytes.js';
import { resolveSecAggParams, type SecAggOptions } from './config.js';
import { secAggError } from './errors.js';
import { buildNeighbourGraph, GRAPH_SEED_BYTES, type NeighbourGraph } from './graph.js';
import { SEED_BYTES, X25519_BYTES } from './key-agreement.js';
import { addWords } from './masking.js';
import { maskedWords } from './masked-sum.js';
import { parseSecAggReply } from './message-guards.js';
import type {
  PeerKeys, RoutedShare, SecAggCollectMaskedRequest, SecAggParams, SecAggReply, SecAggSetupRequest,
  SecAggShareKeysRequest, SecAggStage, SecAggUnmaskRequest,
} from './messages.js';
import { decodeShare, shareLength } from './shamir.js';
import { ENVELOPE_OVERHEAD_BYTES } from './share-envelope.js';

export type SecAggServerStage = SecAggStage | 'done' | 'aborted';

export interface SecAggServerState {
  stage: SecAggServerStage;
  readonly round: number;
  readonly params: SecAggParams;
  readonly clientIds: readonly number[];
  readonly graphSeed: Uint8Array;
  readonly graph: NeighbourGraph;
  /** Clients the current stage's requests went to. */
  active: Set<number>;
  /** Clients whose reply for the current stage was accepted. */
  replied: Set<number>;
  keys: Map<number, PeerKeys>;
  /** u → the clients holding shares of u's secrets (u included). */
  holders: Map<number, readonly number[]>;
  uploads: Map<number, readonly { to: number; ciphertext: Uint8Array }[]>;
  /** u → the clients whose envelopes were routed to u: exactly u's pairwise-mask partners. */
  routedTo: Map<number, readonly number[]>;
  maskedSum: Uint32Array | undefined;
  /** Clients whose masked input is in the sum (set when collect-masked closes). */
  survivors: readonly number[];
  /** Clients that shared keys, sent no masked input, and whose pairwise masks must be removed. */
  dropped: readonly number[];
  asked: Map<number, SecAggUnmaskRequest>;
  selfMaskShares: Map<number, Uint8Array[]>;
  maskKeyShares: Map<number, Uint8Array[]>;
  abortReason: string | undefined;
}

export interface SecAggServerOptions extends SecAggOptions {
  readonly round: number;
  /** The sampled clients' secure-aggregation ids (1 … 65535). */
  readonly clientIds: readonly number[];
}

/** Starts a round: validates the options, draws the graph seed, and returns the setup requests. */
export function createSecAggServer(options: SecAggServerOptions, random: RandomSource): { state: SecAggServerState; requests: SecAggSetupRequest[] } {
  const { round, clientIds } = options;
  if (!Number.isInteger(round) || round < 0 || round > 0xffffffff) throw secAggError('config-invalid', `round must be a uint32, got ${round}`);
  const params = resolveSecAggParams(options, clientIds.length);
  const graphSeed = new Uint8Array(GRAPH_SEED_BYTES);
  random.fillBytes(graphSeed);
  let graph: NeighbourGraph;
  try {
    graph = buildNeighbourGraph(clientIds, params.neighbourCount, graphSeed);
  } catch (error) {
    throw secAggError('config-invalid', `clientIds: ${(error as Error).message}`);
  }
  const state: SecAggServerState = {
    stage: 'setup', round, params, clientIds: graph.ids, graphSeed, graph, active: new Set(graph.ids), replied: new Set(),
    keys: new Map(), holders: new Map(), uploads: new Map(), routedTo: new Map(), maskedSum: undefined,
    survivors: [], dropped: [], asked: new Map(), selfMaskShares: new Map(), maskKeyShares: new Map(), abortReason: undefined,
  };
  const requests = graph.ids.map((to): SecAggSetupRequest => ({ kind: 'secagg-setup', round, to, clientIds: graph.ids, graphSeed, params }));
  return { state, requests };
}

/** Clients whose reply to the current stage is still awaited. */
export function serverAwaiting(state: SecAggServerState): number[] {
  return [...state.active].filter((id) => !state.replied.has(id)).sort((a, b) => a - b);
}

const KIND_OF_STAGE = { setup: 'secagg-keys', 'share-keys': 'secagg-shares', 'collect-masked': 'secagg-masked', unmask: 'secagg-unmask-shares' } as const;

/** Checks and records one client's reply. Throws a coded error, and changes nothing, if it is refused. */
export function serverHandleReply(state: SecAggServerState, reply: unknown): void {
  const msg = parseSecAggReply(reply);
  if (state.stage === 'done' || state.stage === 'aborted') throw secAggError('round-closed', `secure-aggregation round ${state.round} is ${state.stage}`);
  if (msg.round !== state.round) throw secAggError('round-closed', `reply for round ${msg.round}, the server is in round ${state.round}`);
  if (msg.kind !== KIND_OF_STAGE[state.stage]) throw secAggError('secagg-stage-invalid', `got '${msg.kind}' while in stage '${state.stage}'`);
  if (!state.active.has(msg.from)) throw secAggError('not-selected', `client ${msg.from} is not expected in stage '${state.stage}'`);
  if (state.replied.has(msg.from)) throw secAggError('duplicate-update', `client ${msg.from} already replied in stage '${state.stage}'`);
  RECORD[msg.kind](state, msg as never);
  state.replied.add(msg.from);
}

/** Masked inputs already summed elsewhere mod 2^modulusBits (see masked-sum.ts), with who is in the sum. */
export interface SecAggMaskedSum {
  readonly round: number;
  /** The clients whose masked input is in `masked`, each once. */
  readonly contributors: readonly number[];
  /** vectorLength + 1 little-endian uint32 words, each below 2^modulusBits. */
  readonly masked: Uint8Array;
}

/**
 * Records a pre-summed masked input during collect-masked, as if each contributor had sent
 * its own `secagg-masked` reply: afterwards they count as replied (survivors). Throws a
 * coded error, and changes nothing, when the round or stage is wrong, a contributor is not
 * awaited or already in the sum, or the words are malformed.
 *
 * @example
 * const sum = emptyMaskedSum(state.params);
 * for (const reply of myClientsReplies) addMaskedInput(sum, reply.masked, state.params, `client ${reply.from}`);
 * serverHandleMaskedSum(state, { round: state.round, contributors: myClientsReplies.map((r) => r.from), masked: wordsToBytes(sum) });
 */
export function serverHandleMaskedSum(state: SecAggServerState, sum: SecAggMaskedSum): void {
  if (state.stage === 'done' || state.stage === 'aborted') throw secAggError('round-closed', `secure-aggregation round ${state.round} is ${state.stage}`);
  if (sum.round !== state.round) throw secAggError('round-closed', `masked sum for round ${sum.round}, the server is in round ${state.round}`);
  if (state.stage !== 'collect-masked') throw secAggError('secagg-stage-invalid', `got a masked sum while in stage '${state.stage}'`);
  if (!Array.isArray(sum.contributors) || sum.contributors.length === 0) throw secAggError('invalid-message', 'a masked sum must name at least one contributor');
  if (!(sum.masked instanceof Uint8Array)) throw secAggError('invalid-message', 'a masked sum must carry its words as a Uint8Array');
  const seen = new Set<number>();
  for (const id of sum.contributors) {
    if (!state.active.has(id)) throw secAggError('not-selected', `client ${String(id)} is not expected in stage 'collect-masked'`);
    if (state.replied.has(id) || seen.has(id)) throw secAggError('duplicate-update', `client ${id}'s masked input is already in the sum`);
    seen.add(id);
  }
  const words = maskedWords(sum.masked, state.params, `the masked sum of clients [${sum.contributors.join(', ')}]`);
  addWords(state.maskedSum!, words, 1);
  for (const id of seen) state.replied.add(id);
}

type Recorders = { [K in SecAggReply['kind']]: (state: SecAggServerState, msg: Extract<SecAggReply, { kind: K }>) => void };

const RECORD: Recorders = {
  'secagg-keys'(state, msg) {
    const known = new Set([...state.keys.values()].flatMap((k) => [toHex(k.cipherPublicKey), toHex(k.maskPublicKey)]));
    for (const key of [msg.cipherPublicKey, msg.maskPublicKey]) {
      if (key.length !== X25519_BYTES || known.has(toHex(key))) throw secAggError('secagg-key-invalid', `client ${msg.from} sent a malformed or repeated public key`);
      known.add(toHex(key));
    }
    state.keys.set(msg.from, { id: msg.from, cipherPublicKey: msg.cipherPublicKey, maskPublicKey: msg.maskPublicKey });
  },
  'secagg-shares'(state, msg) {
    const expected = state.holders.get(msg.from)!.filter((id) => id !== msg.from);
    const envelopeBytes = ENVELOPE_OVERHEAD_BYTES + 2 * (2 + shareLength(SEED_BYTES));
    const recipients = msg.shares.map((s) => s.to).sort((a, b) => a - b);
    if (recipients.join() !== expected.join()) {
      throw secAggError('invalid-message', `client ${msg.from} must send one envelope to each of [${expected.join(', ')}], sent to [${recipients.join(', ')}]`);
    }
    for (const share of msg.shares) {
      if (share.ciphertext.length !== envelopeBytes) throw secAggError('secagg-share-invalid', `client ${msg.from}'s envelope to ${share.to} has ${share.ciphertext.length} bytes, expected ${envelopeBytes}`);
    }
    state.uploads.set(msg.from, msg.shares);
  },
  'secagg-masked'(state, msg) {
    addWords(state.maskedSum!, maskedWords(msg.masked, state.params, `client ${msg.from}'s masked input`), 1);
  },
  'secagg-unmask-shares'(state, msg) {
    const asked = state.asked.get(msg.from)!;
    const check = (shares: readonly { owner: number; share: Uint8Array }[], allowed: readonly number[], kind: string): void => {
      const seen = new Set<number>();
      for (const { owner, share } of shares) {
        if (!allowed.includes(owner)) throw secAggError('secagg-reveal-refused', `client ${msg.from} revealed a ${kind} share of client ${owner}, which was not asked for`);
        if (seen.has(owner)) throw secAggError('invalid-message', `client ${msg.from} revealed two ${kind} shares of client ${owner}`);
        seen.add(owner);
        const decoded = decodeShare(share, `client ${msg.from}'s ${kind} share of client ${owner}`);
        if (decoded.x !== msg.from || decoded.secretLength !== SEED_BYTES) {
          throw secAggError('secagg-share-invalid', `client ${msg.from}'s ${kind} share of client ${owner} has x = ${decoded.x}, length ${decoded.secretLength}`);
        }
      }
    };
    check(msg.selfMaskShares, asked.survivors, 'self-mask');
    check(msg.maskKeyShares, asked.dropped, 'mask-key');
    const push = (map: Map<number, Uint8Array[]>, owner: number, share: Uint8Array): void => {
      map.set(owner, [...(map.get(owner) ?? []), share]);
    };
    for (const { owner, share } of msg.selfMaskShares) push(state.selfMaskShares, owner, share);
    for (const { owner, share } of msg.maskKeyShares) push(state.maskKeyShares, owner, share);
  },
};

/** Setup → share-keys: sends each client that advertised keys its holders' keys. */
export function serverCloseSetup(state: SecAggServerState): SecAggShareKeysRequest[] {
  expectStage(state, 'setup');
  const holdersIn = (u: number, set: ReadonlySet<number>) => [u, ...state.graph.neighbours.get(u)!].filter((v) => set.has(v)).sort((a, b) => a - b);
  const remaining = prune(state, new Set(state.replied), holdersIn, 'advertised keys');
  for (const u of remaining) state.holders.set(u, holdersIn(u, remaining));
  nextStage(state, 'share-keys', remaining);
  return [...remaining].map((to) => ({ kind: 'secagg-share-keys', round: state.round, to, peers: state.holders.get(to)!.map((id) => state.keys.get(id)!) }));
}

/** Share-keys → collect-masked: routes each envelope to its recipient and asks for masked input. */
export function serverCloseShareKeys(state: SecAggServerState): SecAggCollectMaskedRequest[] {
  expectStage(state, 'share-keys');
  const holdersIn = (u: number, set: ReadonlySet<number>) => state.holders.get(u)!.filter((v) => set.has(v));
  const remaining = prune(state, new Set(state.replied), holdersIn, 'shared keys');
  const inbox = new Map<number, RoutedShare[]>([...remaining].map((id) => [id, []]));
  for (const from of remaining) {
    state.holders.set(from, holdersIn(from, remaining));
    for (const { to, ciphertext } of state.uploads.get(from)!) inbox.get(to)?.push({ from, to, ciphertext });
  }
  for (const [to, shares] of inbox) state.routedTo.set(to, shares.map((s) => s.from).sort((a, b) => a - b));
  state.uploads.clear();
  state.maskedSum = new Uint32Array(state.params.vectorLength + 1);
  nextStage(state, 'collect-masked', remaining);
  return [...inbox].map(([to, shares]) => ({ kind: 'secagg-collect-masked', round: state.round, to, shares }));
}

/** Collect-masked → unmask: asks each survivor for self-mask shares of survivors and mask-key shares of the dropped. */
export function serverCloseCollectMasked(state: SecAggServerState): SecAggUnmaskRequest[] {
  expectStage(state, 'collect-masked');
  const survivors = new Set(state.replied);
  const dropped = [...state.active].filter((v) => !survivors.has(v) && [...survivors].some((u) => state.routedTo.get(u)!.includes(v)));
  if (survivors.size < state.params.threshold) abort(state, `${survivors.size} clients sent masked input, threshold is ${state.params.threshold}`);
  for (const owner of [...survivors, ...dropped]) {
    const alive = state.holders.get(owner)!.filter((v) => survivors.has(v)).length;
    if (alive < state.params.threshold) abort(state, `only ${alive} holders of client ${owner}'s shares remain, threshold is ${state.params.threshold}`);
  }
  state.survivors = [...survivors].sort((a, b) => a - b);
  state.dropped = dropped.sort((a, b) => a - b);
  const droppedSet = new Set(dropped);
  for (const to of state.survivors) {
    const owners = [to, ...state.routedTo.get(to)!].sort((a, b) => a - b);
    state.asked.set(to, {
      kind: 'secagg-unmask', round: state.round, to,
      survivors: owners.filter((o) => survivors.has(o)),
      dropped: owners.filter((o) => droppedSet.has(o)),
    });
  }
  nextStage(state, 'unmask', survivors);
  return [...state.asked.values()];
}

/** Removes clients with fewer than `threshold` holders among `set` until none is left; aborts below threshold. */
function prune(state: SecAggServerState, set: Set<number>, holdersIn: (u: number, set: ReadonlySet<number>) => number[], what: string): Set<number> {
  const t = state.params.threshold;
  for (let changed = true; changed; ) {
    changed = false;
    for (const u of set) {
      if (holdersIn(u, set).length < t) {
        set.delete(u);
        changed = true;
      }
    }
  }
  if (set.size < t) abort(state, `${set.size} clients ${what} with enough live share holders, threshold is ${t}`);
  return set;
}

function expectStage(state: SecAggServerState, stage: SecAggStage): void {
  if (state.stage !== stage) throw secAggError('secagg-stage-invalid', `cannot close stage '${stage}' while in stage '${state.stage}'`);
}

function nextStage(state: SecAggServerState, stage: SecAggStage, active: Set<number>): void {
  state.stage = stage;
  state.active = active;
  state.replied = new Set();
}

/** Ends the round without a result. Throws `FedkitError('secagg-too-few-clients')`. */
export function abort(state: SecAggServerState, reason: string): never {
  state.stage = 'aborted';
  state.abortReason = reason;
  state.maskedSum = undefined;
  throw secAggError('secagg-too-few-clients', `secure-aggregation round ${state.round} aborted: ${reason}`);
}
