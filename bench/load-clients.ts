/**
 * Child process of bench/load.ts: hosts hundreds of light clients, each a real
 * `FedkitClient` on its own websocket (the real wire protocol: hello, chunked weights in,
 * chunked update out, acknowledgements) whose trainer returns one fixed update at once. No
 * tfjs model is built and nothing trains, so a process can hold many connections; all the
 * clients of a process share one update array.
 *
 * Clients join `joinConcurrency` at a time so that thousands of handshakes do not hit the
 * server at once. Talks to the parent over IPC: `{ type: 'ready', joined }` once every client
 * has joined; answers `{ type: 'stats' }` with how many trained and how many errors it saw;
 * exits on `{ type: 'exit' }` or when the IPC channel to the bench closes.
 */
import type { FedkitClient } from '@fedkit/client-core';
import { fixedTrainer, startFixedClient } from './fixed-client.js';

export interface LoadChildConfig {
  serverUrl: string;
  clientIds: string[];
  params: number;
  /** Every element of the fixed update. */
  updateValue: number;
  /** Handshakes in flight at once in this process. */
  joinConcurrency: number;
}

export interface LoadChildStats {
  type: 'stats';
  trained: number;
  errors: number;
  rssBytes: number;
}

const config = JSON.parse(process.argv[2] ?? '') as LoadChildConfig;
const update = new Float32Array(config.params).fill(config.updateValue);
let trained = 0;
let errors = 0;

function report(message: string): void {
  // The first few are enough to say what went wrong; thousands would drown the output.
  if (++errors <= 5) console.error(message);
}

const trainer = fixedTrainer(update, 100, () => trained++);
const startClient = (clientId: string): Promise<FedkitClient> => startFixedClient(config.serverUrl, clientId, trainer, report, ['error']);

const clients: FedkitClient[] = [];
const queue = config.clientIds.slice();
async function joinWorker(): Promise<void> {
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) clients.push(await startClient(id));
}
await Promise.all(Array.from({ length: Math.min(config.joinConcurrency, queue.length) }, joinWorker));
process.send?.({ type: 'ready', joined: clients.length });

// The bench process is gone (killed, or it failed): do not linger with thousands of sockets.
process.on('disconnect', () => process.exit(0));
process.on('message', (message: { type?: string }) => {
  if (message.type === 'stats') {
    process.send?.({ type: 'stats', trained, errors, rssBytes: process.memoryUsage().rss } satisfies LoadChildStats);
    return;
  }
  if (message.type !== 'exit') return;
  for (const client of clients) client.stop();
  process.disconnect?.();
});
