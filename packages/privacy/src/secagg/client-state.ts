/**
 * The client side of SecAgg / SecAgg+ as an explicit state machine. One state object per
 * round; one handler per stage takes the server's request and returns the reply to send.
 * Handlers do no I/O and read no clock: randomness is injected (STYLE §10) and the only
 * asynchronous step is the WebCrypto mask PRG. They update the state object in place.
 *
 * Failure rule: a request for another round, another client or another stage is refused
 * with a coded error and leaves the state as it was (it may be a stale duplicate). Any
 * other refusal (bad keys, bad shares, an unsafe reveal) ends this client's part in the
 * round (`stage: 'failed'`): it sends nothing more, and the server counts it as dropped.
 */
import type { RandomSource } from '@fedkit/protocol';
import { bytesEqual, toHex, wordsToBytes } from './bytes.js';
import { validateSecAggParams } from './config.js';
import { secAggError } from './errors.js';
import { buildNeighbourGraph, GRAPH_SEED_BYTES } from './graph.js';
import { generateX25519KeyPair, pairwiseMaskSeed, SEED_BYTES, shareBoxKey, X25519_BYTES, type X25519KeyPair } from './key-agreement.js';
import { applyMasks, pairwiseSign, reduceToModulus, type MaskTerm } from './masking.js';
import { parseSecAggRequest } from './message-guards.js';
import type {
  PeerKeys,
  SecAggCollectMaskedRequest,
  SecAggKeysMessage,
  SecAggMaskedMessage,
  SecAggParams,
  SecAggRequest,
  SecAggSetupRequest,
  SecAggShareKeysRequest,
  SecAggSharesMessage,
  SecAggStage,
  SecAggUnmaskMessage,
  SecAggUnmaskRequest,
} from './messages.js';
import { encodeWeightedUpdate, type OutOfRangePolicy, type QuantizedWeight } from './quantize.js';
import { splitSecret } from './shamir.js';
import { openShares, sealShares, type SharePair } from './share-envelope.js';

export type SecAggClientStage = SecAggStage | 'done' | 'failed';

/** Everything one client holds during a round. Secrets are zeroed once no longer needed. */
export interface SecAggClientState {
  /** The stage whose request the client expects next. */
  stage: SecAggClientStage;
  round: number;
  id: number;
  params: SecAggParams | undefined;
  neighbours: readonly number[];
  cipherKeys: X25519KeyPair | undefined;
  maskKeys: X25519KeyPair | undefined;
  /** Share holders announced in share-keys (neighbours that advertised keys, and this client). */
  peers: Map<number, PeerKeys>;
  boxKeys: Map<number, Uint8Array>;
  selfMaskSeed: Uint8Array | undefined;
  /** owner → the shares of the owner's secrets that this client holds (its own included). */
  heldShares: Map<number, SharePair>;
  /** Neighbours whose shares arrived, hence whose pairwise masks this client added. */
  maskedWith: readonly number[];
}

/** A fresh client, waiting for the setup request. */
export function createSecAggClient(): SecAggClientState {
  return {
    stage: 'setup', round: 0, id: 0, params: undefined, neighbours: [], cipherKeys: undefined, maskKeys: undefined,
    peers: new Map(), boxKeys: new Map(), selfMaskSeed: undefined, heldShares: new Map(), maskedWith: [],
  };
}

/** Setup: checks the parameters, rebuilds its neighbour list, and advertises two fresh public keys. */
export function clientHandleSetup(state: SecAggClientState, request: SecAggSetupRequest, random: RandomSource): SecAggKeysMessage {
  const req = expect(state, request, 'secagg-setup');
  return fatal(state, () => {
    validateSecAggParams(req.params, req.clientIds.length);
    if (!req.clientIds.includes(req.to)) throw secAggError('invalid-message', `client ${req.to} is not in the round's client list`);
    if (req.graphSeed.length !== GRAPH_SEED_BYTES) throw secAggError('invalid-message', `graphSeed must be ${GRAPH_SEED_BYTES} bytes`);
    const graph = buildNeighbourGraph(req.clientIds, req.params.neighbourCount, req.graphSeed);
    state.round = req.round;
    state.id = req.to;
    state.params = req.params;
    state.neighbours = graph.neighbours.get(req.to)!;
    state.cipherKeys = generateX25519KeyPair(random);
    state.maskKeys = generateX25519KeyPair(random);
    state.stage = 'share-keys';
    return { kind: 'secagg-keys', round: state.round, from: state.id, cipherPublicKey: state.cipherKeys.publicKey, maskPublicKey: state.maskKeys.publicKey };
  });
}

/** Share-keys: Shamir-shares its self-mask seed and mask key among the holders, one envelope each. */
export function clientHandleShareKeys(state: SecAggClientState, request: SecAggShareKeysRequest, random: RandomSource): SecAggSharesMessage {
  const req = expect(state, request, 'secagg-share-keys');
  return fatal(state, () => {
    const { params, cipherKeys, maskKeys } = session(state);
    const peers = new Map<number, PeerKeys>();
    const seenKeys = new Set<string>();
    for (const peer of req.peers) {
      if (peer.id !== state.id && !state.neighbours.includes(peer.id)) throw secAggError('invalid-message', `client ${peer.id} is not a neighbour of ${state.id}`);
      if (peers.has(peer.id)) throw secAggError('invalid-message', `client ${peer.id} is listed twice`);
      for (const key of [peer.cipherPublicKey, peer.maskPublicKey]) {
        const hex = toHex(key);
        if (key.length !== X25519_BYTES || seenKeys.has(hex)) throw secAggError('secagg-key-invalid', `client ${peer.id} has a malformed or repeated public key`);
        seenKeys.add(hex);
      }
      peers.set(peer.id, peer);
    }
    const own = peers.get(state.id);
    if (own === undefined || !bytesEqual(own.cipherPublicKey, cipherKeys.publicKey) || !bytesEqual(own.maskPublicKey, maskKeys.publicKey)) {
      throw secAggError('secagg-key-invalid', `the key list does not carry client ${state.id}'s own public keys`);
    }
    if (peers.size < params.threshold) throw secAggError('secagg-too-few-clients', `${peers.size} share holders, threshold is ${params.threshold}`);
    const holders = [...peers.keys()].sort((a, b) => a - b);
    const selfMaskSeed = new Uint8Array(SEED_BYTES);
    random.fillBytes(selfMaskSeed);
    const seedShares = splitSecret(selfMaskSeed, params.threshold, holders, random);
    const keyShares = splitSecret(maskKeys.secretKey, params.threshold, holders, random);
    const me = { id: state.id, publicKey: cipherKeys.publicKey };
    const shares: { to: number; ciphertext: Uint8Array }[] = [];
    const boxKeys = new Map<number, Uint8Array>();
    holders.forEach((to, i) => {
      const pair = { selfMaskShare: seedShares[i]!, maskKeyShare: keyShares[i]! };
      if (to === state.id) {
        state.heldShares.set(to, pair);
        return;
      }
      const boxKey = shareBoxKey(cipherKeys.secretKey, me, { id: to, publicKey: peers.get(to)!.cipherPublicKey }, state.round);
      boxKeys.set(to, boxKey);
      shares.push({ to, ciphertext: sealShares({ round: state.round, from: state.id, to }, pair, boxKey, random) });
    });
    state.peers = peers;
    state.boxKeys = boxKeys;
    state.selfMaskSeed = selfMaskSeed;
    state.stage = 'collect-masked';
    return { kind: 'secagg-shares', round: state.round, from: state.id, shares };
  });
}

/** The client's own contribution: its clipped update and its example weight (capped at maxWeight). */
export interface SecAggInput {
  readonly update: Float32Array;
  readonly weight: number;
  /** What to do with values outside the clipping range. @default 'reject' */
  readonly outOfRange?: OutOfRangePolicy;
}

/**
 * Collect-masked: opens the envelopes routed to it, then uploads
 * `[q(w), q(w·Δ)] + PRG(b) + Σ ±PRG(s_uv) mod 2^k`. Returns the weight as uploaded too, so
 * the caller can log that it was capped.
 */
export async function clientHandleCollectMasked(
  state: SecAggClientState,
  request: SecAggCollectMaskedRequest,
  input: SecAggInput,
  random: RandomSource,
): Promise<{ message: SecAggMaskedMessage; weight: QuantizedWeight }> {
  const req = expect(state, request, 'secagg-collect-masked');
  return fatalAsync(state, async () => {
    const { params, maskKeys } = session(state);
    const received = new Map<number, SharePair>();
    for (const routed of req.shares) {
      if (routed.to !== state.id || routed.from === state.id || !state.boxKeys.has(routed.from)) {
        throw secAggError('secagg-share-misaddressed', `client ${state.id} got a share addressed ${routed.from} → ${routed.to}`);
      }
      if (received.has(routed.from)) throw secAggError('invalid-message', `two envelopes from client ${routed.from}`);
      received.set(routed.from, openShares(routed.ciphertext, state.boxKeys.get(routed.from)!, { round: state.round, from: routed.from, to: state.id }));
    }
    if (received.size + 1 < params.threshold) {
      throw secAggError('secagg-too-few-clients', `${received.size + 1} of client ${state.id}'s share holders remain, threshold is ${params.threshold}`);
    }
    if (!(input.update instanceof Float32Array) || input.update.length !== params.vectorLength) {
      throw secAggError('update-size-mismatch', `update has ${String(input.update?.length)} floats, the round expects ${params.vectorLength}`);
    }
    const { words, weight } = encodeWeightedUpdate(input.update, input.weight, params, random, input.outOfRange ?? 'reject');
    const maskedWith = [...received.keys()].sort((a, b) => a - b);
    const me = { id: state.id, publicKey: maskKeys.publicKey };
    const terms: MaskTerm[] = [{ seed: state.selfMaskSeed!, sign: 1 }];
    for (const peer of maskedWith) {
      const seed = pairwiseMaskSeed(maskKeys.secretKey, me, { id: peer, publicKey: state.peers.get(peer)!.maskPublicKey }, state.round);
      terms.push({ seed, sign: pairwiseSign(state.id, peer) });
    }
    await applyMasks(words, terms);
    reduceToModulus(words, params.modulusBits);
    for (const [owner, pair] of received) state.heldShares.set(owner, pair);
    state.maskedWith = maskedWith;
    // Only shares are needed from here on: forget the secrets they protect.
    state.selfMaskSeed!.fill(0);
    maskKeys.secretKey.fill(0);
    state.stage = 'unmask';
    return { message: { kind: 'secagg-masked', round: state.round, from: state.id, masked: wordsToBytes(words) }, weight };
  });
}

/**
 * Unmask: reveals the self-mask share of each survivor and the mask-key share of each dropped
 * client, never both for one client. Refuses (`secagg-reveal-refused`) a client listed as both,
 * itself listed as dropped, or an owner it holds no share of; refuses (`secagg-too-few-clients`)
 * when fewer than `threshold` of its share owners survived. Answers at most once.
 */
export function clientHandleUnmask(state: SecAggClientState, request: SecAggUnmaskRequest): SecAggUnmaskMessage {
  const req = expect(state, request, 'secagg-unmask');
  return fatal(state, () => {
    const { params } = session(state);
    const dropped = new Set(req.dropped);
    const refuse = (why: string): never => {
      throw secAggError('secagg-reveal-refused', `client ${state.id} refuses to unmask: ${why}`);
    };
    for (const owner of req.survivors) {
      if (dropped.has(owner)) refuse(`client ${owner} is listed both as survivor and as dropped`);
    }
    if (dropped.has(state.id)) refuse('it is itself listed as dropped, yet it sent its masked input');
    if (!req.survivors.includes(state.id)) refuse('it is not listed among the survivors');
    for (const owner of [...req.survivors, ...req.dropped]) {
      if (!state.heldShares.has(owner)) refuse(`it holds no share of client ${owner}`);
    }
    if (req.survivors.length < params.threshold) {
      throw secAggError('secagg-too-few-clients', `${req.survivors.length} of client ${state.id}'s share owners survived, threshold is ${params.threshold}`);
    }
    const reveal = (owner: number, kind: keyof SharePair) => ({ owner, share: state.heldShares.get(owner)![kind] });
    state.stage = 'done';
    return {
      kind: 'secagg-unmask-shares',
      round: state.round,
      from: state.id,
      selfMaskShares: req.survivors.map((owner) => reveal(owner, 'selfMaskShare')),
      maskKeyShares: req.dropped.map((owner) => reveal(owner, 'maskKeyShare')),
    };
  });
}

const STAGE_OF_KIND = {
  'secagg-setup': 'setup',
  'secagg-share-keys': 'share-keys',
  'secagg-collect-masked': 'collect-masked',
  'secagg-unmask': 'unmask',
} as const satisfies Record<SecAggRequest['kind'], SecAggStage>;

/** Parses the request and checks stage, round and recipient, leaving the state untouched on failure. */
function expect<K extends SecAggRequest['kind']>(state: SecAggClientState, request: unknown, kind: K): Extract<SecAggRequest, { kind: K }> {
  const req = parseSecAggRequest(request);
  if (req.kind !== kind || state.stage !== STAGE_OF_KIND[kind]) {
    throw secAggError('secagg-stage-invalid', `client in stage '${state.stage}' got a '${req.kind}' request (handler expects '${kind}')`);
  }
  if (kind !== 'secagg-setup') {
    if (req.round !== state.round) throw secAggError('round-closed', `request for round ${req.round}, client is in round ${state.round}`);
    if (req.to !== state.id) throw secAggError('secagg-share-misaddressed', `request addressed to client ${req.to}, this is client ${state.id}`);
  }
  return req as Extract<SecAggRequest, { kind: K }>;
}

function session(state: SecAggClientState): { params: SecAggParams; cipherKeys: X25519KeyPair; maskKeys: X25519KeyPair } {
  return { params: state.params!, cipherKeys: state.cipherKeys!, maskKeys: state.maskKeys! };
}

function fatal<T>(state: SecAggClientState, body: () => T): T {
  try {
    return body();
  } catch (error) {
    state.stage = 'failed';
    throw error;
  }
}

async function fatalAsync<T>(state: SecAggClientState, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    state.stage = 'failed';
    throw error;
  }
}
