/**
 * The benchmarks' clients: a real `FedkitClient` over a websocket (zlib's CRC-32, as
 * startNodeClient passes) whose trainer returns one fixed update at once, so that a bench
 * measures the protocol and the server, not training. Shared by bench/round-clients.ts and
 * bench/load-clients.ts.
 */
import { io } from 'socket.io-client';
import { FedkitClient, type ClientSocket, type LocalTrainer } from '@fedkit/client-core';
import { nodeCrc32 } from '@fedkit/client-node';

/** A trainer that answers every round with `update` (checking the global model's size); `onTrain` counts rounds. */
export function fixedTrainer(update: Float32Array, numExamples: number, onTrain: () => void = () => undefined): LocalTrainer {
  return {
    numExamples,
    numEvalExamples: 0,
    async prepare() {},
    async train(global) {
      if (global.length !== update.length) throw new RangeError(`expected ${update.length} weights, got ${global.length}`);
      onTrain();
      return { update, numExamples, metrics: {} };
    },
    async evaluate() {
      return { loss: 0, accuracy: 0, numExamples: 0 };
    },
  };
}

/**
 * Starts a client without reconnection; resolves once it has joined, rejects when the
 * connection is refused or the server refuses the hello. `log` gets its warnings and errors.
 */
export function startFixedClient(serverUrl: string, clientId: string, trainer: LocalTrainer, log: (message: string) => void, levels: readonly string[] = ['warn', 'error']): Promise<FedkitClient> {
  const socket = io(serverUrl, { transports: ['websocket'], autoConnect: false, reconnection: false, forceNew: true }) as ClientSocket;
  const client = new FedkitClient({
    socket,
    clientId,
    trainer,
    platform: 'node',
    backend: 'none',
    checksum: nodeCrc32,
    log: (level, message) => {
      if (levels.includes(level)) log(`[${clientId}] ${level}: ${message}`);
    },
  });
  return new Promise<FedkitClient>((resolve, reject) => {
    client.on('joined', () => resolve(client));
    // Without reconnection a refused connection would otherwise leave this promise pending.
    socket.once('connect_error', (error) => reject(new Error(`[${clientId}] cannot connect: ${error.message}`)));
    client.start().catch((error: Error) => {
      log(`[${clientId}] ${error.message}`);
      reject(error);
    });
  });
}
