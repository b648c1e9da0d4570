/**
 * Child process of bench/round.ts: hosts several clients so that the server process is
 * measured on its own event loop. Each client is a pair of sockets to the two servers of the
 * bench: a real `FedkitClient` whose trainer returns a fixed update at once, and a bare
 * socket.io socket that echoes the same number of bytes back in the same chunk size once it
 * has received a whole model (the transfer-only baseline).
 *
 * Talks to the parent over the IPC channel: sends `{ type: 'ready' }` once every client has
 * joined and every bare socket is connected; answers `{ type: 'cpu', id }` with this
 * process's CPU time so far; exits on `{ type: 'exit' }`.
 */
import { io, type Socket } from 'socket.io-client';
import type { FedkitClient } from '@fedkit/client-core';
import { fixedTrainer, startFixedClient } from './fixed-client.js';

export interface ChildConfig {
  serverUrl: string;
  bareUrl: string;
  clientIds: string[];
  params: number;
  chunkBytes: number;
  /** Every element of the fixed update. */
  updateValue: number;
}

export interface BareChunk {
  index: number;
  count: number;
  data: Uint8Array;
}

const config = JSON.parse(process.argv[2] ?? '') as ChildConfig;

function startFedkit(clientId: string): Promise<FedkitClient> {
  const trainer = fixedTrainer(new Float32Array(config.params).fill(config.updateValue), 600);
  return startFixedClient(config.serverUrl, clientId, trainer, (message) => console.error(message));
}

/** A bare socket: after `count` chunks in, it sends as many bytes back in chunks of the same size. */
function startBare(): Promise<Socket> {
  const socket = io(config.bareUrl, { transports: ['websocket'], reconnection: false, forceNew: true });
  const upload = new Uint8Array(config.params * 4).fill(7);
  let received = 0;
  socket.on('chunk', (chunk: BareChunk) => {
    if (++received < chunk.count) return;
    received = 0;
    for (let index = 0; index < chunk.count; index++) {
      const data = upload.subarray(index * config.chunkBytes, Math.min(upload.byteLength, (index + 1) * config.chunkBytes));
      socket.emit('chunk', { index, count: chunk.count, data } satisfies BareChunk);
    }
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

const clients = await Promise.all(config.clientIds.map(startFedkit));
const bare = await Promise.all(config.clientIds.map(startBare));
process.send?.({ type: 'ready' });
process.on('message', (message: { type?: string; id?: number }) => {
  if (message.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send?.({ type: 'cpu', id: message.id, ms: (user + system) / 1000 });
    return;
  }
  if (message.type !== 'exit') return;
  for (const client of clients) client.stop();
  for (const socket of bare) socket.disconnect();
  process.disconnect?.();
});
