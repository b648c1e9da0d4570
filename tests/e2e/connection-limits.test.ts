/**
 * Hostile connections do not hurt the others: a message flood is throttled (`rate-limited`,
 * and dropped after maxViolations refusals in a row), an oversized message is refused (a
 * coded error, or the socket closed when it exceeds socket.io's buffer), and meanwhile the
 * well-behaved clients complete their round with the expected model.
 */
import { describe, expect, it } from 'vitest';
import type { FederationServer } from '@fedkit/server';
import { crc32, type AckReply } from '@fedkit/protocol';
import { constantTrainer, tinyModel, federationSession, type startServer } from '../helpers/federation.js';
import { connectRaw, type RawClient } from '../helpers/raw-client.js';

const session = federationSession();

/** Three good clients whose training waits for `gate`, so the attack overlaps the round. */
function goodClients(url: string, gate: Promise<void>): void {
  for (const [id, value] of [['a', 1], ['b', 2], ['c', 3]] as const) {
    const trainer = constantTrainer(value);
    const train = trainer.train.bind(trainer);
    trainer.train = async (...args) => {
      await gate;
      return train(...args);
    };
    session.client(url, id, trainer);
  }
}

function expectGoodRound(server: FederationServer, result: Awaited<ReturnType<FederationServer['run']>>): void {
  expect(result.rounds[0]).toMatchObject({ status: 'completed', replied: 3, failed: [] });
  Array.from(server.currentWeights()).forEach((w, i) => expect(w).toBeCloseTo(tinyModel.weights[i]! + 2, 5));
}

/** Sends an event without an acknowledgement (errors then come back as `fedkit-error`). */
function emitNoAck(client: RawClient, event: string, payload: unknown): void {
  (client.socket.emit as unknown as (event: string, payload: unknown) => void).call(client.socket, event, payload);
}

async function roundStarted(s: FederationServer): Promise<void> {
  if (s.stage === 'training') return;
  await new Promise<void>((resolve) => s.on('stage', (stage) => stage === 'training' && resolve()));
}

/** A joined hostile connection. */
async function joinedOutsider(url: string, clientId: string): Promise<RawClient> {
  const outsider = await connectRaw(url, clientId);
  session.own(outsider);
  expect((await outsider.hello()).ok).toBe(true);
  return outsider;
}

/**
 * Starts a one-round federation of the three good clients, held open until the returned
 * `finish` (which then checks that the round came out exactly as without the attack).
 */
async function heldRound(options: Parameters<typeof startServer>[0]): Promise<{ server: FederationServer; url: string; finish: () => Promise<void> }> {
  const started = await session.server({ rounds: 1, minClients: 3, ...options });
  const server = started.server;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const summary = server.run();
  goodClients(started.url, gate);
  await roundStarted(server);
  return {
    server,
    url: started.url,
    finish: async () => {
      open();
      expectGoodRound(server, await summary);
    },
  };
}

describe('per-connection limits', () => {
  it('throttles a message flood from one client while the others complete their round', async () => {
    const round = await heldRound({ connectionLimits: { messagesPerSecond: 20, messageBurst: 20, maxViolations: 100_000 } });
    const flooder = await joinedOutsider(round.url, 'flooder');
    const replies = (await Promise.all(
      Array.from({ length: 1000 }, () => flooder.socket.emitWithAck('evaluate-result', { round: 1, numExamples: 1, loss: 0, accuracy: 0 } as never)),
    )) as AckReply[];
    const codes = replies.map((r) => (r.ok ? 'ok' : r.error.code));
    const limited = codes.filter((c) => c === 'rate-limited').length;
    expect(limited).toBeGreaterThan(900);
    // The ones let through were handled normally (no evaluation is open).
    expect(new Set(codes)).toEqual(new Set(['rate-limited', 'round-not-open']));
    expect(flooder.socket.connected).toBe(true);
    await round.finish();
  });

  it('drops a connection that keeps flooding past maxViolations', async () => {
    const round = await heldRound({ connectionLimits: { messagesPerSecond: 10, messageBurst: 10, maxViolations: 50 } });
    const flooder = await joinedOutsider(round.url, 'flooder');
    const dropped = new Promise<string>((resolve) => flooder.socket.once('disconnect', resolve));
    const errors: string[] = [];
    flooder.socket.on('fedkit-error', (e) => errors.push(e.code));
    for (let i = 0; i < 200; i++) emitNoAck(flooder, 'train-error', { round: 1, error: { code: 'client-error', message: 'x' } });
    expect(await dropped).toBe('io server disconnect');
    expect(errors).toContain('rate-limited');
    await round.finish();
  });

  it('refuses an oversized message without harming the others', async () => {
    const round = await heldRound({ transfer: { maxChunkBytes: 1024 } });

    // Over the update size (the model's 32 bytes): a coded refusal, the connection stays.
    const big = await joinedOutsider(round.url, 'big');
    const data = new Uint8Array(1024).fill(7);
    const ack = (await big.socket.emitWithAck('chunk', { transferId: 't1', index: 0, count: 1, chunkBytes: 1024, totalBytes: 1024, crc32: crc32(data), data } as never)) as AckReply;
    expect(ack).toMatchObject({ ok: false, error: { code: 'transfer-too-large' } });
    expect(big.socket.connected).toBe(true);

    // Over socket.io's message limit (a chunk plus 64 KiB of envelope): the socket is closed.
    const huge = await joinedOutsider(round.url, 'huge');
    const closed = new Promise<string>((resolve) => huge.socket.once('disconnect', resolve));
    const blob = new Uint8Array(256 * 1024);
    emitNoAck(huge, 'chunk', { transferId: 't2', index: 0, count: 1, chunkBytes: blob.byteLength, totalBytes: blob.byteLength, crc32: 0, data: blob });
    expect(await closed).toMatch(/transport close|transport error/);

    await round.finish();
    expect(round.server.status().clients.total).toBe(4);
  });
});
