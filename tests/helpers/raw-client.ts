/**
 * A hand-driven protocol client for bad-input tests: it speaks the wire protocol message by
 * message (as a client in another language would), so tests can send exactly the malformed
 * or out-of-order messages they want.
 */
import {
  PROTOCOL_VERSION,
  encodeFloat32,
  splitTransfer,
  type AckReply,
  type HelloReply,
  type TensorSpec,
  type TrainMessage,
} from '@fedkit/protocol';
import { rawSocket, tinyModel } from './federation.js';

export interface RawClient {
  socket: ReturnType<typeof rawSocket>;
  hello(overrides?: Record<string, unknown>): Promise<HelloReply>;
  nextTrain(): Promise<TrainMessage>;
  sendUpdate(
    round: number,
    update: Float32Array,
    options?: {
      layout?: TensorSpec[];
      bytes?: Uint8Array;
      corruptChunk?: number;
      dropChunk?: number;
      chunkBytes?: number;
      envelope?: { nonce: Uint8Array; clientBoxPublicKey: Uint8Array; signature: Uint8Array };
      /** More train-result fields (e.g. baseModelVersion). */
      extra?: Record<string, unknown>;
    },
  ): Promise<{ chunkAcks: AckReply[]; result: AckReply }>;
  close(): void;
}

let counter = 0;

export async function connectRaw(url: string, clientId = `raw-${++counter}`): Promise<RawClient & { clientId: string }> {
  const socket = rawSocket(url);
  const trains: TrainMessage[] = [];
  const waiters: ((m: TrainMessage) => void)[] = [];
  socket.on('train', (msg) => {
    const waiter = waiters.shift();
    if (waiter) waiter(msg);
    else trains.push(msg);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
    socket.connect();
  });
  return {
    clientId,
    socket,
    hello: (overrides = {}) =>
      socket.emitWithAck('hello', {
        protocolVersion: PROTOCOL_VERSION,
        clientId,
        numExamples: 10,
        platform: 'other',
        backend: 'none',
        ...overrides,
      } as never) as Promise<HelloReply>,
    nextTrain: () => {
      const ready = trains.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiters.push(resolve));
    },
    async sendUpdate(round, update, options = {}) {
      const transferId = `t-${clientId}-${round}-${Math.random().toString(36).slice(2, 8)}`;
      const bytes = options.bytes ?? encodeFloat32(update);
      const chunks = splitTransfer(transferId, bytes, options.chunkBytes ?? 16);
      const chunkAcks: AckReply[] = [];
      for (const chunk of chunks) {
        if (chunk.index === options.dropChunk) continue;
        const sent = chunk.index === options.corruptChunk ? { ...chunk, crc32: (chunk.crc32 + 1) >>> 0 } : chunk;
        chunkAcks.push((await socket.emitWithAck('chunk', sent)) as AckReply);
      }
      const result = (await socket.emitWithAck('train-result', {
        round,
        transferId,
        numExamples: 10,
        layout: options.layout ?? tinyModel.layout.map((t) => ({ ...t })),
        metrics: { loss: 1 },
        ...(options.envelope === undefined ? {} : { envelope: options.envelope }),
        ...options.extra,
      })) as AckReply;
      return { chunkAcks, result };
    },
    close: () => socket.disconnect(),
  };
}
