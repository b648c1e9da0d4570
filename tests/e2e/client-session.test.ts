/**
 * The client side of bad input: a scripted socket.io server (speaking the protocol by hand)
 * sends the Fedkit client refusals, corrupted weights and malformed messages, and the
 * client answers with coded errors instead of crashing or training on bad data.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { io as connectSocket } from 'socket.io-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PROTOCOL_VERSION, encodeFloat32, splitTransfer, type TrainErrorMessage } from '@fedkit/protocol';
import { FedkitClient, type ClientSocket } from '@fedkit/client-core';
import { constantTrainer, nextEvent, startClient, tinyModel } from '../helpers/federation.js';

let io: Server | undefined;
const clients: FedkitClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.stop();
  await new Promise<void>((resolve) => (io ? io.close(() => resolve()) : resolve()));
  io = undefined;
});

const welcome = {
  ok: true,
  protocolVersion: PROTOCOL_VERSION,
  sessionId: 's',
  model: { topology: null, layout: tinyModel.layout, numParams: 8 },
  limits: { maxChunkBytes: 16, maxTransferBytes: 32, transferTimeoutMs: 10_000 },
};

async function scriptedServer(onHello: (socket: Socket, ack: (reply: unknown) => void) => void): Promise<string> {
  const http = createServer();
  io = new Server(http);
  io.on('connection', (socket) => socket.on('hello', (_msg: unknown, ack: (reply: unknown) => void) => onHello(socket, ack)));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

describe('FedkitClient against a misbehaving or refusing server', () => {
  it('a server that drops the socket before answering hello: no unhandled rejection, the client reconnects and joins', async () => {
    let hellos = 0;
    const url = await scriptedServer((socket, ack) => {
      hellos++;
      // The first server process dies mid-handshake (a cluster worker killed); the next answers.
      if (hellos === 1) socket.conn.close();
      else ack(welcome);
    });
    const client = startClient(url, 'c', constantTrainer(1), true);
    clients.push(client);
    await expect.poll(() => client.session?.sessionId, { timeout: 10_000 }).toBe('s');
    expect(hellos).toBe(2);
  });


  it('stops with the coded error when the server refuses the hello', async () => {
    const url = await scriptedServer((_socket, ack) =>
      ack({ ok: false, error: { code: 'protocol-version-mismatch', message: 'this server speaks protocol version 9' } }),
    );
    const client = startClient(url, 'c', constantTrainer(1));
    clients.push(client);
    await expect(client.finished).rejects.toMatchObject({ code: 'protocol-version-mismatch', message: expect.stringContaining('version 9') });
  });

  it('reports a corrupted weight download as a train-error instead of training on it', async () => {
    const trainer = constantTrainer(1);
    const trainError = new Promise<TrainErrorMessage>((resolve) => {
      void scriptedServer((socket, ack) => {
        socket.on('train-error', (msg: TrainErrorMessage, done: (r: unknown) => void) => {
          done({ ok: true });
          resolve(msg);
        });
        ack(welcome);
        const chunks = splitTransfer('w1', encodeFloat32(tinyModel.weights), 16);
        socket.emit('chunk', chunks[0]);
        socket.emit('chunk', { ...chunks[1]!, crc32: (chunks[1]!.crc32 ^ 1) >>> 0 });
        socket.emit('train', { round: 1, modelVersion: 0, transferId: 'w1', deadlineMs: 5000, config: { epochs: 1, batchSize: 10, learningRate: 0.1 } });
      }).then((url) => clients.push(startClient(url, 'c', trainer)));
    });
    expect(await trainError).toMatchObject({ round: 1, error: { code: 'chunk-checksum-mismatch' } });
    expect(trainer.rounds).toEqual([]);
  });

  it('ignores malformed server messages and still trains on the next valid request', async () => {
    const trainer = constantTrainer(1);
    const result = new Promise<{ round: number }>((resolve) => {
      void scriptedServer((socket, ack) => {
        socket.on('chunk', (_c: unknown, done: (r: unknown) => void) => done({ ok: true }));
        socket.on('train-result', (msg: { round: number }, done: (r: unknown) => void) => {
          done({ ok: true });
          resolve(msg);
        });
        ack(welcome);
        socket.emit('train', { round: 'one' });
        socket.emit('chunk', { transferId: 'x', data: 5 });
        socket.emit('finished', { reason: 'because' });
        for (const chunk of splitTransfer('w2', encodeFloat32(tinyModel.weights), 16)) socket.emit('chunk', chunk);
        socket.emit('train', { round: 2, modelVersion: 0, transferId: 'w2', deadlineMs: 5000, config: { epochs: 1, batchSize: null, learningRate: 0.1 } });
      }).then((url) => clients.push(startClient(url, 'c', trainer)));
    });
    expect(await result).toMatchObject({ round: 2 });
    expect(trainer.rounds).toEqual([2]);
  });

  it('sends train-error when local training fails, and the server does not wait for the deadline', async () => {
    const { startServer } = await import('../helpers/federation.js');
    const started = await startServer({ rounds: 1, minClients: 3, sampling: { fraction: 1, minFit: 2 }, roundDeadlineMs: 30_000 });
    const failing = constantTrainer(1);
    failing.train = async () => {
      throw new Error('out of memory on this phone');
    };
    try {
      const summary = started.server.run();
      clients.push(startClient(started.url, 'a', constantTrainer(1)), startClient(started.url, 'b', constantTrainer(1)), startClient(started.url, 'bad', failing));
      const round = (await summary).rounds[0]!;
      expect(round).toMatchObject({ status: 'completed', replied: 2 });
      expect(round.failed).toEqual([{ clientId: 'bad', code: 'training-failed', message: 'client reported: out of memory on this phone' }]);
      expect(round.trainPhaseMs).toBeLessThan(10_000);
    } finally {
      await started.server.close();
    }
  });
  it('drops a connection whose hello goes unanswered and joins again on a fresh one', async () => {
    let hellos = 0;
    const connections = new Set<string>();
    const url = await scriptedServer((socket, ack) => {
      hellos++;
      connections.add(socket.id);
      // The first hello is never answered (a server that hangs); the second gets a welcome.
      if (hellos >= 2) ack(welcome);
    });
    const socket = connectSocket(url, { transports: ['websocket'], autoConnect: false, reconnection: false, forceNew: true }) as ClientSocket;
    const client = new FedkitClient({ socket, clientId: 'c', trainer: constantTrainer(1), platform: 'node', backend: 'test', helloTimeoutMs: 200, helloRetryDelayMs: 50 });
    clients.push(client);
    void client.start();
    await nextEvent((listener) => client.on('joined', listener));
    expect(hellos).toBe(2);
    expect(connections.size).toBe(2);
    expect(socket.connected).toBe(true);
  });

  it('does not rejoin after stop() when a hello was left unanswered', async () => {
    let hellos = 0;
    const url = await scriptedServer(() => {
      hellos++;
    });
    const socket = connectSocket(url, { transports: ['websocket'], autoConnect: false, reconnection: false, forceNew: true }) as ClientSocket;
    const client = new FedkitClient({ socket, clientId: 'c', trainer: constantTrainer(1), platform: 'node', backend: 'test', helloTimeoutMs: 100, helloRetryDelayMs: 100 });
    void client.start();
    await vi.waitFor(() => expect(hellos).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 150)); // the hello times out, the client drops the connection
    client.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hellos).toBe(1);
    expect(socket.connected).toBe(false);
  });
});
