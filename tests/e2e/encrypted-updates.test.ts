/**
 * Encrypted, signed updates over real sockets: each round has its own server key pair;
 * clients box their update to it and sign it with their identity key; the server verifies
 * round, sender, signature and nonce before it decrypts, and refuses anything else with a
 * coded error while the round completes with the honest clients.
 */
import { describe, expect, it } from 'vitest';
import { createIdentityKeyPair, sealUpdate } from '@fedkit/privacy';
import { cryptoRandomSource, encodeFloat32, PROTOCOL_VERSION, type AckReply } from '@fedkit/protocol';
import { constantTrainer, tinyModel, federationSession } from '../helpers/federation.js';
import { connectRaw, type RawClient } from '../helpers/raw-client.js';

const session = federationSession();

const random = cryptoRandomSource();
const P = tinyModel.weights.length;

describe('encrypted updates', () => {
  it('clients seal updates to each round key; the server opens them and aggregates', async () => {
    const started = await session.server({ rounds: 2, encryptUpdates: true });
    const server = started.server;
    const summary = server.run();
    session.client(started.url, 'a', constantTrainer(1));
    session.client(started.url, 'b', constantTrainer(2));
    session.client(started.url, 'c', constantTrainer(3));
    const result = await summary;
    expect(result.rounds.map((r) => [r.status, r.replied])).toEqual([
      ['completed', 3],
      ['completed', 3],
    ]);
    // Sealed transfers carry the 16-byte box tag on top of the update.
    expect(result.rounds[0]!.bytesIn).toBe(3 * (P * 4 + 16));
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 4, 5));
  });

  it('refuses a hello without an identity key, unsealed, forged, tampered, replayed and stale updates', async () => {
    const started = await session.server({ rounds: 1, minClients: 8, sampling: { fraction: 1, minFit: 2 }, encryptUpdates: true });
    const server = started.server;
    const summary = server.run();
    session.client(started.url, 'good-1', constantTrainer(1));
    session.client(started.url, 'good-3', constantTrainer(3));

    const anonymous = await connectRaw(started.url, 'anonymous');
    session.own(anonymous);
    expect(await anonymous.hello()).toMatchObject({ ok: false, error: { code: 'invalid-message', message: expect.stringContaining('identityPublicKey') } });

    const names = ['plain', 'forged', 'tampered', 'truncated', 'replay', 'stale'] as const;
    const identities = Object.fromEntries(names.map((n) => [n, createIdentityKeyPair(random)]));
    const bad = await Promise.all(names.map((n) => connectRaw(started.url, `bad-${n}`)));
    for (const r of bad) session.own(r);
    for (const [i, r] of bad.entries()) expect((await r.hello({ identityPublicKey: identities[names[i]!]!.publicKey })).ok).toBe(true);
    const trains = await Promise.all(bad.map((r) => r.nextTrain()));
    const round = trains[0]!.round;
    const roundKey = new Uint8Array(trains[0]!.roundPublicKey!);
    expect(roundKey.byteLength).toBe(32);
    const update = encodeFloat32(new Float32Array(P).fill(1000));
    const seal = (clientId: string, identity = identities[clientId.slice(4)]!, r = round, key = roundKey) =>
      sealUpdate(update, { round: r, clientId, serverRoundKey: key, identity, random });
    const send = async (raw: RawClient, envelope: ReturnType<typeof seal> | null, bytes?: Uint8Array): Promise<AckReply> =>
      (
        await raw.sendUpdate(round, new Float32Array(0), {
          bytes: bytes ?? envelope!.ciphertext,
          ...(envelope === null ? {} : { envelope: { nonce: envelope.nonce, clientBoxPublicKey: envelope.clientBoxPublicKey, signature: envelope.signature } }),
        })
      ).result;
    const [plain, forged, tampered, truncated, replay, stale] = bad as unknown as [RawClient, RawClient, RawClient, RawClient, RawClient, RawClient];
    const tamperedEnvelope = seal('bad-tampered');
    const flipped = tamperedEnvelope.ciphertext.slice();
    flipped[20] = flipped[20]! ^ 1;
    const replayEnvelope = seal('bad-replay');
    // A replay: the first copy is accepted, the second refused (the round is still open:
    // the other bad clients have not answered yet).
    expect(await send(replay, replayEnvelope)).toEqual({ ok: true });
    expect(await send(replay, replayEnvelope)).toMatchObject({ ok: false, error: { code: 'duplicate-update' } });
    const results = await Promise.all([
      send(plain, null, update),
      send(forged, seal('bad-forged', createIdentityKeyPair(random))),
      send(tampered, tamperedEnvelope, flipped),
      send(truncated, seal('bad-truncated'), seal('bad-truncated').ciphertext.subarray(0, 40)),
      send(stale, seal('bad-stale', identities.stale, round + 1)),
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'invalid-message',
      'signature-invalid',
      'signature-invalid',
      'signature-invalid',
      'signature-invalid',
    ]);
    const result = await summary.then((s) => s.rounds[0]!);
    expect(result).toMatchObject({ status: 'completed', replied: 3 });
    // good-1, good-3 and the first copy of the replayed update (1000) were averaged.
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + (1 + 3 + 1000) / 3, 3));
  });

  it('an identity key that is not 32 bytes is refused in the hello', async () => {
    const started = await session.server({ encryptUpdates: true });
    const raw = await connectRaw(started.url);
    session.own(raw);
    const reply = await raw.hello({ protocolVersion: PROTOCOL_VERSION, identityPublicKey: new Uint8Array(31) });
    expect(reply).toMatchObject({ ok: false, error: { code: 'invalid-message', message: expect.stringContaining('field "identityPublicKey": must be exactly 32 bytes') } });
  });
});
