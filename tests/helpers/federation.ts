/**
 * Shared pieces for end-to-end tests: a server on port 0 with a tiny model, real
 * socket.io-client sockets, scripted trainers that return known updates so that the
 * aggregated model can be checked exactly, and `federationSession()`, which closes what a
 * test started once the test ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { afterEach } from 'vitest';
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

/** A client `federationSession()` can end: a FedkitClient, a raw client or a bare socket. */
type Ownable = { stop(): void } | { close(): void } | { disconnect(): unknown };

/** What `federationSession()` tears down after each test. */
export interface FederationSession {
  /** `startServer(overrides)`, closed after the test. */
  server(overrides?: Partial<FederationServerOptions>): Promise<{ server: FederationServer; url: string }>;
  /** Closes `server` after the test (one built by hand). */
  track(server: FederationServer): FederationServer;
  /** `startClient(...)`, stopped after the test. */
  client(url: string, clientId: string, trainer: LocalTrainer, reconnection?: boolean): FedkitClient;
  /** Stops a client, closes a raw client or disconnects a socket after the test. */
  own<T extends Ownable>(client: T): T;
  /** A fresh directory under the OS temp dir, removed after the test. */
  tempDir(prefix: string): string;
  /** Stops and closes everything now, as after the test, but keeps the temp dirs (e.g. to restart on a data dir). */
  end(): Promise<void>;
}

/**
 * Call once at the top of a test file: after each test it stops the clients, closes the raw
 * clients and sockets, then the servers, and removes the temp dirs that test made through it.
 *
 * @example
 * const session = federationSession();
 * it('…', async () => {
 *   const { server, url } = await session.server({ rounds: 1 });
 *   session.client(url, 'a', constantTrainer(1));
 * });
 */
export function federationSession(): FederationSession {
  const servers: FederationServer[] = [];
  const owned: Ownable[] = [];
  const dirs: string[] = [];
  const end = async (): Promise<void> => {
    for (const c of owned.splice(0)) {
      if ('stop' in c) c.stop();
      else if ('close' in c) c.close();
      else c.disconnect();
    }
    for (const s of servers.splice(0)) await s.close();
  };
  afterEach(async () => {
    await end();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const own = <T extends Ownable>(client: T): T => {
    owned.push(client);
    return client;
  };
  return {
    async server(overrides = {}) {
      const started = await startServer(overrides);
      servers.push(started.server);
      return started;
    },
    track(server) {
      servers.push(server);
      return server;
    },
    client: (url, clientId, trainer, reconnection = false) => own(startClient(url, clientId, trainer, reconnection)),
    own,
    tempDir(prefix) {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    end,
  };
}
