/**
 * A federated client for Node in one call: pick the tfjs backend (wasm, else cpu), wrap the
 * local data in the engine trainer, connect over socket.io with reconnection and exponential
 * backoff, and rejoin after every reconnect.
 */
import { randomUUID } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { io } from 'socket.io-client';
import type { IdentityKeyPair } from '@fedkit/privacy';
import { FedkitClient, engineTrainer, type ClientSocket, type LocalDataset, type TrainProgress } from '@fedkit/client-core';
import { crc32 as pureCrc32, type Crc32, type FinishedMessage, type RandomSource } from '@fedkit/protocol';
import { initNodeBackend } from './backend.js';

export interface NodeClientOptions {
  /** e.g. `http://localhost:8080` */
  serverUrl: string;
  /** Stable identity of this client. @default a random UUID */
  clientId?: string;
  train: LocalDataset;
  test?: LocalDataset;
  /** @default 'wasm' (falls back to 'cpu' with a logged reason) */
  backend?: 'wasm' | 'cpu';
  /** Reconnection backoff: first delay, cap, in ms. @default { initialDelayMs: 500, maxDelayMs: 10000 } */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  random?: RandomSource;
  /** The client's Ed25519 identity (persist it to keep one identity across restarts). @default a fresh one */
  identity?: IdentityKeyPair;
  /** Enrollment token for servers with token authentication (`fedkit token create`). */
  authToken?: string;
  onProgress?: (progress: TrainProgress & { round: number }) => void;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface NodeClient {
  client: FedkitClient;
  backend: 'wasm' | 'cpu';
  backendReason: string;
  /** Resolves when the server says training finished. */
  finished: Promise<FinishedMessage>;
  stop(): void;
}

/**
 * CRC-32 of chunks for Node clients: zlib's (Node ≥ 20.15), the same values as the protocol's
 * pure-TypeScript one at several times its speed; the pure one on older Node.
 */
export const nodeCrc32: Crc32 = typeof zlibCrc32 === 'function' ? (bytes) => zlibCrc32(bytes) >>> 0 : pureCrc32;

/**
 * Starts a Node client and connects it.
 *
 * @example
 * const { finished } = await startNodeClient({ serverUrl: 'http://localhost:8080', train: myData });
 * await finished;
 */
export async function startNodeClient(options: NodeClientOptions): Promise<NodeClient> {
  const log = options.log;
  const selected = await initNodeBackend({
    ...(options.backend === undefined ? {} : { backend: options.backend }),
    ...(log === undefined ? {} : { log: (message: string) => log('warn', message) }),
  });
  const trainer = engineTrainer({
    train: options.train,
    ...(options.test === undefined ? {} : { test: options.test }),
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const socket = io(options.serverUrl, {
    autoConnect: false,
    transports: ['websocket'],
    reconnection: true,
    reconnectionDelay: options.reconnect?.initialDelayMs ?? 500,
    reconnectionDelayMax: options.reconnect?.maxDelayMs ?? 10_000,
    randomizationFactor: 0.5,
  }) as ClientSocket;
  const client = new FedkitClient({
    socket,
    clientId: options.clientId ?? randomUUID(),
    trainer,
    platform: 'node',
    backend: selected.backend,
    backendReason: selected.reason,
    checksum: nodeCrc32,
    ...(log === undefined ? {} : { log }),
    ...(options.identity === undefined ? {} : { identity: options.identity }),
    ...(options.authToken === undefined ? {} : { authToken: options.authToken }),
    ...(options.random === undefined ? {} : { random: options.random }),
  });
  const finished = client.start().finally(() => {
    socket.disconnect();
    trainer.dispose();
  });
  return {
    client,
    backend: selected.backend,
    backendReason: selected.reason,
    finished,
    stop: () => {
      client.stop();
      trainer.dispose();
    },
  };
}
