import { FedkitError, seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { clientHandleSetup, clientHandleShareKeys, clientHandleUnmask, createSecAggClient } from '../src/secagg/client-state.js';
import type { SecAggCollectMaskedRequest, SecAggReply, SecAggRequest, SecAggUnmaskMessage, SecAggUnmaskRequest } from '../src/secagg/messages.js';
import { DEFAULT_QUANTIZATION } from '../src/secagg/quantize.js';
import { createSecAggServer, serverHandleReply } from '../src/secagg/server-state.js';
import { sealShares } from '../src/secagg/share-envelope.js';
import { splitSecret } from '../src/secagg/shamir.js';
import { maxAbsDiff, plainWeightedMean, runRound, type Outcome } from './secagg-harness.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof FedkitError ? error.code : `not coded: ${String(error)}`;
  }
  return undefined;
}

/** The round still completes, correctly, without the clients that refused or were refused. */
function expectRecovered(outcome: Outcome, without: number[]): void {
  expect(outcome.error).toBeUndefined();
  for (const id of without) expect(outcome.result!.dropped).toContain(id);
  const { mean, tolerance } = plainWeightedMean(outcome, DEFAULT_QUANTIZATION);
  expect(maxAbsDiff(outcome.result!.weightedMean, mean)).toBeLessThan(tolerance);
}

/** Rewrites the collect-masked request to client `to` with `edit`. */
function onCollect(to: number, edit: (req: SecAggCollectMaskedRequest, clients: Parameters<NonNullable<Parameters<typeof runRound>[0]['onRequest']>>[1]) => SecAggCollectMaskedRequest) {
  return (req: SecAggRequest, clients: Parameters<NonNullable<Parameters<typeof runRound>[0]['onRequest']>>[1]): SecAggRequest =>
    req.kind === 'secagg-collect-masked' && req.to === to ? edit(req, clients) : req;
}

function onUnmask(to: number, edit: (req: SecAggUnmaskRequest) => SecAggUnmaskRequest) {
  return (req: SecAggRequest): SecAggRequest => (req.kind === 'secagg-unmask' && req.to === to ? edit(req) : req);
}

const base = { clients: 10, threshold: 4, neighbourCount: 6, vectorLength: 200 };

describe('bad input to secure aggregation', () => {
  describe('a share addressed to the wrong client', () => {
    it('routing entry for another client: refused, and the round recovers without that client', async () => {
      const outcome = await runRound({ ...base, seed: 21, onRequest: onCollect(2, (req) => ({ ...req, shares: req.shares.map((s, i) => (i === 0 ? { ...s, to: 9 } : s)) })) });
      expect(outcome.clientErrors.get(2)?.code).toBe('secagg-share-misaddressed');
      expect(outcome.clients.get(2)!.stage).toBe('failed');
      expectRecovered(outcome, [2]);
    });

    it('an envelope whose authenticated header names another recipient or another round: refused', async () => {
      for (const header of [{ to: 3 }, { round: 99 }]) {
        const outcome = await runRound({
          ...base, seed: 22,
          onRequest: onCollect(2, (req, clients) => {
            const from = req.shares[0]!.from;
            const sender = clients.get(from)!;
            const share = splitSecret(new Uint8Array(32), 1, [2], seededRandomSource(1))[0]!; // well-formed, x = 2
            const pair = { selfMaskShare: share, maskKeyShare: share };
            const ciphertext = sealShares({ round: sender.round, from, to: 2, ...header }, pair, sender.boxKeys.get(2)!, seededRandomSource(3));
            return { ...req, shares: [{ from, to: 2, ciphertext }, ...req.shares.slice(1)] };
          }),
        });
        expect(outcome.clientErrors.get(2)?.code).toBe('secagg-share-misaddressed');
        expectRecovered(outcome, [2]);
      }
    });

    it('a request addressed to another client is refused without touching the state', () => {
      const client = createSecAggClient();
      const { requests } = createSecAggServer({ round: 1, clientIds: [1, 2, 3], threshold: 2, vectorLength: 4 }, seededRandomSource(1));
      clientHandleSetup(client, requests[0]!, seededRandomSource(2));
      expect(codeOf(() => clientHandleShareKeys(client, { kind: 'secagg-share-keys', round: 1, to: 2, peers: [] }, seededRandomSource(3)))).toBe('secagg-share-misaddressed');
      expect(client.stage).toBe('share-keys');
    });
  });

  describe('a malformed share', () => {
    it('a tampered ciphertext does not decrypt: secagg-share-invalid', async () => {
      const outcome = await runRound({
        ...base, seed: 23,
        onRequest: onCollect(5, (req) => {
          const ciphertext = req.shares[0]!.ciphertext.slice();
          ciphertext[60]! ^= 1;
          return { ...req, shares: [{ ...req.shares[0]!, ciphertext }, ...req.shares.slice(1)] };
        }),
      });
      expect(outcome.clientErrors.get(5)?.code).toBe('secagg-share-invalid');
      expectRecovered(outcome, [5]);
    });

    it('a well-encrypted envelope carrying a share that is not a field element: secagg-share-invalid', async () => {
      const outcome = await runRound({
        ...base, seed: 24,
        onRequest: onCollect(5, (req, clients) => {
          const from = req.shares[0]!.from;
          const sender = clients.get(from)!;
          const good = splitSecret(new Uint8Array(32), 1, [5], seededRandomSource(1))[0]!; // well-formed, x = 5
          const bad = good.slice();
          bad[5] = 0xff; // limb ≥ 2^127 − 1
          const ciphertext = sealShares({ round: sender.round, from, to: 5 }, { selfMaskShare: bad, maskKeyShare: good }, sender.boxKeys.get(5)!, seededRandomSource(2));
          return { ...req, shares: [{ from, to: 5, ciphertext }, ...req.shares.slice(1)] };
        }),
      });
      expect(outcome.clientErrors.get(5)?.code).toBe('secagg-share-invalid');
      expectRecovered(outcome, [5]);
    });

    it('a malformed share revealed to the server in unmask: the reply is refused, the round still completes', async () => {
      const outcome = await runRound({
        ...base, seed: 25,
        onReply: (reply: SecAggReply) => {
          if (reply.kind !== 'secagg-unmask-shares' || reply.from !== 3) return reply;
          const [first, ...rest] = reply.selfMaskShares;
          return { ...reply, selfMaskShares: [{ ...first!, share: first!.share.subarray(0, 20) }, ...rest] };
        },
      });
      expect(outcome.serverRejections.get(3)?.code).toBe('secagg-share-invalid');
      expect(outcome.error).toBeUndefined();
      expect(outcome.result!.contributors).toContain(3);
    });
  });

  describe('quantized values out of range', () => {
    it('a client whose update leaves the clipping range refuses to mask it; the round recovers', async () => {
      const outcome = await runRound({
        ...base, seed: 26,
        input: (id, random, length) => ({ update: Float32Array.from({ length }, (_, j) => (id === 4 && j === 7 ? 9 : random.nextFloat() - 0.5)), weight: 1000 }),
      });
      expect(outcome.clientErrors.get(4)?.code).toBe('secagg-value-out-of-range');
      expectRecovered(outcome, [4]);
    });

    it('the server refuses a masked word at or above the modulus (2^24 here)', async () => {
      const quantization = { ...DEFAULT_QUANTIZATION, modulusBits: 24, quantizationRange: 2 ** 16 };
      const outcome = await runRound({
        ...base, seed: 27, quantization,
        onReply: (reply) => {
          if (reply.kind !== 'secagg-masked' || reply.from !== 6) return reply;
          const masked = reply.masked.slice();
          masked[3] = 0x01; // word 0 becomes ≥ 2^24
          return { ...reply, masked };
        },
      });
      expect(outcome.serverRejections.get(6)?.code).toBe('secagg-value-out-of-range');
      expect(outcome.error).toBeUndefined();
      expect(outcome.result!.dropped).toEqual([6]);
      const { mean, tolerance } = plainWeightedMean(outcome, quantization);
      expect(maxAbsDiff(outcome.result!.weightedMean, mean)).toBeLessThan(tolerance);
    });
  });

  it('a weight above maxWeight is capped (and the client is told), not rejected', async () => {
    const outcome = await runRound({
      ...base, seed: 28,
      input: (id, random, length) => ({ update: Float32Array.from({ length }, () => random.nextFloat() - 0.5), weight: id === 1 ? 5000 : 500 }),
    });
    expect(outcome.capped.get(1)).toBe(true);
    expect(outcome.capped.get(2)).toBe(false);
    // Each weight is quantized to maxWeight / (2^22 − 1) ≈ 2.4e−4 examples.
    expect(Math.abs(outcome.result!.totalWeight - (1000 + 9 * 500))).toBeLessThan(10 * 2.4e-4);
    expectRecovered(outcome, []);
  });

  it('a client that sends its masked input and vanishes before unmasking is recovered', async () => {
    const outcome = await runRound({ ...base, seed: 29, dropAt: { unmask: [4, 8] } });
    expectRecovered(outcome, []);
    expect(outcome.result!.contributors).toEqual(expect.arrayContaining([4, 8]));
  });

  describe('requests to reveal the wrong share', () => {
    it('a client listed both as survivor and as dropped: refused', async () => {
      const outcome = await runRound({ ...base, seed: 30, onRequest: onUnmask(1, (req) => ({ ...req, dropped: [...req.dropped, req.survivors.find((id) => id !== 1)!] })) });
      expect(outcome.clientErrors.get(1)?.code).toBe('secagg-reveal-refused');
      expect(outcome.error).toBeUndefined();
    });

    it("a survivor's mask-key share (the requesting client itself listed as dropped): refused", async () => {
      const outcome = await runRound({ ...base, seed: 31, onRequest: onUnmask(1, (req) => ({ ...req, survivors: req.survivors.filter((id) => id !== 1), dropped: [...req.dropped, 1] })) });
      expect(outcome.clientErrors.get(1)?.code).toBe('secagg-reveal-refused');
      expect(outcome.error).toBeUndefined();
    });

    it('a share of a client it holds no share of: refused', async () => {
      const outcome = await runRound({
        ...base, seed: 32,
        onRequest: (req, clients) => {
          if (req.kind !== 'secagg-unmask' || req.to !== 1) return req;
          const stranger = [2, 3, 4, 5, 6, 7, 8, 9, 10].find((id) => !clients.get(1)!.heldShares.has(id))!;
          return { ...req, dropped: [...req.dropped, stranger] };
        },
      });
      expect(outcome.clientErrors.get(1)?.code).toBe('secagg-reveal-refused');
    });

    it('the server refuses a reply revealing a mask-key share of a survivor, and never holds both kinds for one client', async () => {
      const outcome = await runRound({
        ...base, seed: 33, dropAt: { 'collect-masked': [10] },
        onReply: (reply) => {
          if (reply.kind !== 'secagg-unmask-shares' || reply.from !== 2) return reply;
          const survivorShare = reply.selfMaskShares[0]!;
          return { ...reply, maskKeyShares: [...reply.maskKeyShares, survivorShare] } satisfies SecAggUnmaskMessage;
        },
      });
      expect(outcome.serverRejections.get(2)?.code).toBe('secagg-reveal-refused');
      expectRecovered(outcome, [10]);
      for (const owner of outcome.server.selfMaskShares.keys()) expect(outcome.server.maskKeyShares.has(owner)).toBe(false);
    });

    it('a second unmask request after the client answered: refused', async () => {
      const outcome = await runRound({ ...base, seed: 34 });
      const client = outcome.clients.get(1)!;
      expect(client.stage).toBe('done');
      const again: SecAggUnmaskRequest = { kind: 'secagg-unmask', round: client.round, to: 1, survivors: [1], dropped: [] };
      expect(codeOf(() => clientHandleUnmask(client, again))).toBe('secagg-stage-invalid');
    });
  });

  it('too few survivors: clean abort with secagg-too-few-clients', async () => {
    const outcome = await runRound({ ...base, threshold: 6, neighbourCount: 9, seed: 35, dropAt: { 'collect-masked': [1, 2, 3, 4, 5] } });
    expect(outcome.error?.code).toBe('secagg-too-few-clients');
    expect(outcome.server.stage).toBe('aborted');
    expect(outcome.result).toBeUndefined();
  });

  describe('protocol misuse seen by the server', () => {
    const setup = () => {
      const { state, requests } = createSecAggServer({ round: 7, clientIds: [1, 2, 3], threshold: 2, vectorLength: 4 }, seededRandomSource(1));
      const replies = requests.map((req) => clientHandleSetup(createSecAggClient(), req, seededRandomSource(req.to)));
      return { state, replies };
    };

    it('wrong round, unknown client, duplicate, wrong stage, malformed, repeated key: each coded, none changes the state', () => {
      const { state, replies } = setup();
      serverHandleReply(state, replies[0]!);
      expect(codeOf(() => serverHandleReply(state, { ...replies[1]!, round: 8 }))).toBe('round-closed');
      expect(codeOf(() => serverHandleReply(state, { ...replies[1]!, from: 4 }))).toBe('not-selected');
      expect(codeOf(() => serverHandleReply(state, replies[0]!))).toBe('duplicate-update');
      expect(codeOf(() => serverHandleReply(state, { kind: 'secagg-masked', round: 7, from: 2, masked: new Uint8Array(20) }))).toBe('secagg-stage-invalid');
      expect(codeOf(() => serverHandleReply(state, { ...replies[1]!, maskPublicKey: 'abc' }))).toBe('invalid-message');
      expect(codeOf(() => serverHandleReply(state, { ...replies[1]!, maskPublicKey: replies[0]!.maskPublicKey }))).toBe('secagg-key-invalid');
      expect(codeOf(() => serverHandleReply(state, null))).toBe('invalid-message');
      expect([...state.replied]).toEqual([1]);
      expect(state.keys.size).toBe(1);
    });

    it('refuses to start a round with an unsafe threshold or an overflowing modulus', () => {
      const make = (threshold: number, clientIds: number[], extra = {}) => () => createSecAggServer({ round: 1, clientIds, threshold, vectorLength: 4, ...extra }, seededRandomSource(1));
      expect(codeOf(make(5, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toBe('config-invalid'); // not a majority of 10 holders
      expect(codeOf(make(11, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toBe('config-invalid');
      expect(codeOf(make(6, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toBeUndefined();
      expect(codeOf(make(2, [1, 2, 3], { modulusBits: 16 }))).toBe('config-invalid');
      expect(codeOf(make(2, [1, 1, 3]))).toBe('config-invalid');
    });

    it('a client refuses announced parameters that would let the server rebuild both of its secrets', () => {
      const { requests } = createSecAggServer({ round: 1, clientIds: [1, 2, 3, 4], threshold: 3, vectorLength: 4 }, seededRandomSource(1));
      const client = createSecAggClient();
      const unsafe = { ...requests[0]!, params: { ...requests[0]!.params, threshold: 2 } };
      expect(codeOf(() => clientHandleSetup(client, unsafe, seededRandomSource(2)))).toBe('config-invalid');
      expect(client.stage).toBe('failed');
    });

    it("a client refuses a key list that does not carry its own keys", () => {
      const { requests } = createSecAggServer({ round: 1, clientIds: [1, 2, 3], threshold: 2, vectorLength: 4 }, seededRandomSource(1));
      const clients = requests.map(() => createSecAggClient());
      const keys = requests.map((req, i) => clientHandleSetup(clients[i]!, req, seededRandomSource(10 + i)));
      const peers = keys.map((k) => ({ id: k.from, cipherPublicKey: k.cipherPublicKey, maskPublicKey: k.maskPublicKey }));
      const swapped = [{ ...peers[0]!, maskPublicKey: peers[1]!.cipherPublicKey }, ...peers.slice(1)];
      expect(codeOf(() => clientHandleShareKeys(clients[0]!, { kind: 'secagg-share-keys', round: 1, to: 1, peers: swapped }, seededRandomSource(4)))).toBe('secagg-key-invalid');
    });
  });
});
