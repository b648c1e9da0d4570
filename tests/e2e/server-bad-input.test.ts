import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@fedkit/protocol';
import { constantTrainer, tinyModel, federationSession } from '../helpers/federation.js';
import { connectRaw, type RawClient } from '../helpers/raw-client.js';

const session = federationSession();

function errorCode(reply: { ok: boolean; error?: { code: string } }): string | undefined {
  return reply.ok ? undefined : reply.error?.code;
}

const P = tinyModel.weights.length;

describe('handshake', () => {
  it('refuses a wrong protocol version with a clear error and disconnects', async () => {
    const started = await session.server();
    const raw = await connectRaw(started.url);
    session.own(raw);
    const disconnected = new Promise<string>((resolve) => raw.socket.once('disconnect', resolve));
    const reply = await raw.hello({ protocolVersion: PROTOCOL_VERSION + 1 });
    expect(reply).toEqual({
      ok: false,
      error: { code: 'protocol-version-mismatch', message: `this server speaks protocol version ${PROTOCOL_VERSION}, the client sent ${PROTOCOL_VERSION + 1}` },
    });
    expect(await disconnected).toBe('io server disconnect');
  });

  it('names the bad field of an invalid hello, and refuses work before hello', async () => {
    const started = await session.server();
    const raw = await connectRaw(started.url);
    session.own(raw);
    const early = await raw.sendUpdate(1, new Float32Array(P));
    expect(errorCode(early.chunkAcks[0]!)).toBe('not-joined');
    expect(errorCode(early.result)).toBe('not-joined');
    const reply = await raw.hello({ numExamples: -3 });
    expect(reply.ok).toBe(false);
    expect(!reply.ok && reply.error).toMatchObject({ code: 'invalid-message', message: expect.stringContaining('field "numExamples"') });
    expect((await raw.hello()).ok).toBe(true);
    expect(errorCode(await raw.hello())).toBe('already-joined');
  });

  it('survives garbage payloads, missing acks and unknown events', async () => {
    const started = await session.server({ rounds: 1 });
    const server = started.server;
    // A hello without a valid protocol version is answered and the socket dropped.
    for (const payload of [null, 42, 'x', [], { clientId: 'no-version' }]) {
      const probe = await connectRaw(started.url);
      session.own(probe);
      const disconnected = new Promise<string>((resolve) => probe.socket.once('disconnect', resolve));
      const error = new Promise<unknown>((resolve) => probe.socket.once('fedkit-error', resolve));
      (probe.socket.emit.bind(probe.socket) as (event: string, ...args: unknown[]) => void)('hello', payload);
      await expect(error).resolves.toMatchObject({ code: 'protocol-version-mismatch' });
      await expect(disconnected).resolves.toBe('io server disconnect');
    }
    const raw = await connectRaw(started.url);
    session.own(raw);
    const errors: unknown[] = [];
    raw.socket.on('fedkit-error', (e) => errors.push(e));
    const send = raw.socket.emit.bind(raw.socket) as (event: string, ...args: unknown[]) => void;
    send('hello', { protocolVersion: PROTOCOL_VERSION, clientId: '' });
    send('chunk', { transferId: 'x', index: 1e12, count: 1, chunkBytes: 1, totalBytes: 1, crc32: 0, data: 'nope' });
    send('no-such-event', { a: 1 });
    send('train-result');
    send('evaluate-result', 'x');
    await expect(raw.hello()).resolves.toMatchObject({ ok: true });
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatchObject({ code: 'invalid-message', message: expect.stringContaining('field "clientId"') });
    // The server still runs rounds, with this client among them.
    const summary = server.run();
    session.client(started.url, 'g1', constantTrainer(1));
    session.client(started.url, 'g2', constantTrainer(1));
    const train = await raw.nextTrain();
    await raw.sendUpdate(train.round, new Float32Array(P).fill(1));
    expect((await summary).roundsCompleted).toBe(1);
  });
});

describe('bad updates are rejected with a coded error, never touch the model, and the round completes', () => {
  it('rejects wrong tensor count, wrong shape, wrong byte length, NaN, Infinity and bad chunks', async () => {
    const started = await session.server({ rounds: 1, minClients: 9, sampling: { fraction: 1, minFit: 2 } });
    const server = started.server;
    const summary = server.run();
    // Good clients: updates 1 and 3, equal weights → the model moves by exactly 2.
    session.client(started.url, 'good-1', constantTrainer(1, 10));
    session.client(started.url, 'good-3', constantTrainer(3, 10));
    const names = ['count', 'shape', 'size', 'nan', 'inf', 'crc', 'missing'] as const;
    const bad = await Promise.all(names.map((n) => connectRaw(started.url, `bad-${n}`)));
    for (const r of bad) session.own(r);
    for (const r of bad) expect((await r.hello()).ok).toBe(true);
    const trains = await Promise.all(bad.map((r) => r.nextTrain()));
    const round = trains[0]!.round;
    const huge = new Float32Array(P).fill(1e6);
    const nan = huge.slice();
    nan[7] = Number.NaN;
    const inf = huge.slice();
    inf[0] = Number.POSITIVE_INFINITY;
    const [count, shape, size, nanR, infR, crc, missing] = bad as unknown as [RawClient, RawClient, RawClient, RawClient, RawClient, RawClient, RawClient];
    const results = await Promise.all([
      count.sendUpdate(round, huge, { layout: [tinyModel.layout[0]!] }),
      shape.sendUpdate(round, huge, { layout: [{ name: 'dense/kernel', shape: [2, 3] }, tinyModel.layout[1]!] }),
      size.sendUpdate(round, huge, { bytes: new Uint8Array(P * 4 - 4) }),
      nanR.sendUpdate(round, nan),
      infR.sendUpdate(round, inf),
      crc.sendUpdate(round, huge, { corruptChunk: 0 }),
      missing.sendUpdate(round, huge, { dropChunk: 1 }),
    ]);
    expect(results.map((r) => errorCode(r.result))).toEqual([
      'update-shape-mismatch',
      'update-shape-mismatch',
      'update-size-mismatch',
      'update-not-finite',
      'update-not-finite',
      'chunk-checksum-mismatch',
      'chunk-missing',
    ]);
    expect(errorCode(results[5]!.chunkAcks[0]!)).toBe('chunk-checksum-mismatch');
    expect(results[3]!.result).toMatchObject({ error: { message: expect.stringContaining('"dense/bias" holds NaN at flat index 7') } });
    const result = await summary;
    const r1 = result.rounds[0]!;
    expect(r1).toMatchObject({ status: 'completed', selected: 9, replied: 2 });
    expect(r1.failed.map((f) => [f.clientId, f.code]).sort()).toEqual(
      [
        ['bad-count', 'update-shape-mismatch'],
        ['bad-crc', 'chunk-checksum-mismatch'],
        ['bad-inf', 'update-not-finite'],
        ['bad-missing', 'chunk-missing'],
        ['bad-nan', 'update-not-finite'],
        ['bad-shape', 'update-shape-mismatch'],
        ['bad-size', 'update-size-mismatch'],
      ].sort(),
    );
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 2, 5));
  });

  it('rejects wrong rounds, duplicates and clients that were not selected', async () => {
    const started = await session.server({ rounds: 2, minClients: 3, sampling: { fraction: 1, minFit: 2 } });
    const server = started.server;
    const rejected: string[] = [];
    server.on('rejected', (r) => rejected.push(`${r.clientId}:${r.code}`));
    const summary = server.run();
    session.client(started.url, 'good', constantTrainer(1, 10));
    const late = await connectRaw(started.url, 'late');
    const raw = await connectRaw(started.url, 'raw');
    session.own(raw);
    expect((await raw.hello()).ok).toBe(true);
    expect((await late.hello()).ok).toBe(true);
    session.own(late);
    const [train, lateTrain] = await Promise.all([raw.nextTrain(), late.nextTrain()]);
    expect(train.round).toBe(1);
    const ones = new Float32Array(P).fill(1);
    expect(errorCode((await raw.sendUpdate(7, ones)).result)).toBe('round-not-open');
    expect((await raw.sendUpdate(1, ones)).result).toEqual({ ok: true });
    expect(errorCode((await raw.sendUpdate(1, ones)).result)).toBe('duplicate-update');
    // A newcomer who joins mid-round was not selected for it.
    const newcomer = await connectRaw(started.url, 'newcomer');
    session.own(newcomer);
    expect((await newcomer.hello()).ok).toBe(true);
    expect(errorCode((await newcomer.sendUpdate(1, ones)).result)).toBe('not-selected');
    expect((await late.sendUpdate(lateTrain.round, ones)).result).toEqual({ ok: true });
    // Round 2: a reply for round 1 is now for a closed round.
    const [train2] = await Promise.all([raw.nextTrain(), late.nextTrain()]);
    expect(train2.round).toBe(2);
    expect(errorCode((await raw.sendUpdate(1, ones)).result)).toBe('round-closed');
    await raw.sendUpdate(2, ones);
    const lateTrain2 = await newcomer.nextTrain().catch(() => null);
    if (lateTrain2) await newcomer.sendUpdate(2, ones);
    await late.sendUpdate(2, ones);
    const result = await summary;
    expect(result.roundsCompleted).toBe(2);
    expect(result.rounds[0]!.replied).toBe(3);
    expect(rejected).toEqual(expect.arrayContaining(['raw:round-not-open', 'raw:duplicate-update', 'newcomer:not-selected', 'raw:round-closed']));
    Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 2, 5));
  });
});
