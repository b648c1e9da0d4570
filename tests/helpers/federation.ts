/**
 * Shared pieces for end-to-end tests: a server on port 0 with a tiny model, real
 * socket.io-client sockets, and scripted trainers that return known updates so that the
 * aggregated model can be checked exactly.
 */
import { io } from 'socket.io-client';
import { FederationServer, type FederationServerOptions, type ModelDefinition } from '@fedkit/server';
import { FedkitClient, type ClientSocket, type LocalTrainer } from '@fedkit/client-core';
import { seededRandomSource } from '@fedkit/protocol';

export const tinyModel: ModelDefinition = {
  topology: null,
  layout: [
    { name: 'dense/kernel', shape: [3, 2] },
    { name: 'dense/bias', shape: [2] },
  ],
  weights: new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]),
};

export async function startServer(overrides: Partial<FederationServerOptions> = {}): Promise<{ server: FederationServer; url: string }> {
  const server = new FederationServer({
    model: tinyModel,
    random: seededRandomSource(1),
    rounds: 2,
    minClients: 3,
    evaluate: { every: 0 },
    roundDeadlineMs: 10_000,
    ...overrides,
  });
  const port = await server.listen(0);
  return { server, url: `http://127.0.0.1:${port}` };
}

export function rawSocket(url: string): ClientSocket {
  return io(url, { transports: ['websocket'], autoConnect: false, reconnection: false, forceNew: true }) as ClientSocket;
}

/** A trainer whose update is `delta` filled with `value` (or a function of the round). */
export function constantTrainer(value: number | ((round: number) => number), numExamples = 10, numEvalExamples = 0): LocalTrainer & { rounds: number[] } {
  const rounds: number[] = [];
  return {
    rounds,
    numExamples,
    numEvalExamples,
    async prepare() {},
    async train(global, _config, { round }) {
      rounds.push(round);
      const v = typeof value === 'function' ? value(round) : value;
      return { update: new Float32Array(global.length).fill(v), numExamples, metrics: { loss: v, accuracy: 0.5 } };
    },
    async evaluate() {
      return { loss: 1, accuracy: 0.5, numExamples: numEvalExamples };
    },
  };
}

export function startClient(url: string, clientId: string, trainer: LocalTrainer, reconnection = false): FedkitClient {
  const socket = io(url, { transports: ['websocket'], autoConnect: false, reconnection, forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 200 }) as ClientSocket;
  const client = new FedkitClient({ socket, clientId, trainer, platform: 'node', backend: 'test' });
  void client.start().catch(() => undefined);
  return client;
}

/** Resolves with the first event payload matching `predicate`. */
export function nextEvent<T>(subscribe: (listener: (payload: T) => void) => unknown, predicate: (payload: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    subscribe((payload) => {
      if (predicate(payload)) resolve(payload);
    });
  });
}
