/**
 * The part of a browser client that trains: it starts the tfjs backend, loads the identity
 * from IndexedDB, and runs client-core's FedkitClient over socket.io — the same protocol
 * session, DP mods, update sealing and secure aggregation as in Node. It runs inside a Web
 * Worker (worker-entry.ts) so the page stays responsive, or on the main thread where workers
 * are unavailable; either way it only talks through `RunnerCommand` / `RunnerMessage`.
 */
import { io } from 'socket.io-client';
import { FedkitClient, engineTrainer, type ClientSocket, type EngineTrainer } from '@fedkit/client-core';
import { FedkitError } from '@fedkit/protocol';
import { initWebBackend } from './backend.js';
import { loadIdentity } from './identity-store.js';
import type { LogLevel, RunnerCommand, RunnerMessage, WebClientEvents, WebClientState } from './messages.js';

export interface SessionRunner {
  handle(command: RunnerCommand): void;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function errorFields(error: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  if (error instanceof FedkitError) return { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: { ...error.details } }) };
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

/** A runner that reports through `post`. One runner runs one client, once. */
export function createSessionRunner(post: (message: RunnerMessage) => void): SessionRunner {
  let client: FedkitClient | null = null;
  let trainer: EngineTrainer | null = null;
  let gate: { promise: Promise<void>; release: () => void } | null = null;
  let state: WebClientState = 'connecting';
  let started = false;
  const emit = <K extends keyof WebClientEvents>(event: K, payload: WebClientEvents[K]): void =>
    post({ type: 'event', event, payload } as RunnerMessage);
  const setState = (next: WebClientState): void => {
    state = next;
    emit('state', { state, paused: gate !== null });
  };
  const log = (level: LogLevel, message: string, fields?: Record<string, unknown>): void =>
    emit('log', { level, message, ...(fields === undefined ? {} : { fields }) });

  async function start(command: Extract<RunnerCommand, { type: 'start' }>): Promise<void> {
    const { config } = command;
    const backend = await initWebBackend({ backend: config.backend, wasmPaths: config.wasmPaths });
    if (backend.reason.includes('unavailable')) log('warn', `backend: ${backend.reason}`);
    const stored = await loadIdentity(config.identityKey, config.clientId === undefined ? {} : { clientId: config.clientId });
    trainer = engineTrainer({
      train: command.train,
      ...(command.test === undefined ? {} : { test: command.test }),
      onProgress: (p) => emit('progress', { round: p.round, epoch: p.epoch, batch: p.batch, batchesPerEpoch: p.batchesPerEpoch, loss: p.loss }),
      beforeBatch: () => gate?.promise ?? Promise.resolve(),
    });
    const socket = io(config.serverUrl, {
      autoConnect: false,
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: config.reconnect.initialDelayMs,
      reconnectionDelayMax: config.reconnect.maxDelayMs,
      randomizationFactor: 0.5,
    }) as ClientSocket;
    const fedkit = new FedkitClient({
      socket,
      clientId: stored.clientId,
      trainer,
      platform: 'browser',
      backend: backend.backend,
      // The hello allows 1,000 characters; a reason listing every skipped backend stays far below.
      backendReason: `${backend.reason} (training in ${config.mode === 'worker' ? 'a Web Worker' : 'the main thread'})`.slice(0, 1000),
      identity: stored.identity,
      ...(config.authToken === undefined ? {} : { authToken: config.authToken }),
      log,
    });
    client = fedkit;
    fedkit.on('joined', (welcome) => {
      setState('joined');
      emit('joined', { sessionId: welcome.sessionId, clientId: stored.clientId });
    });
    fedkit.on('train-start', (msg) => {
      setState('training');
      emit('round-start', { round: msg.round });
    });
    fedkit.on('train-done', (done) => {
      emit('train-done', done);
      setState('idle');
    });
    fedkit.on('evaluate-done', (done) => emit('evaluate-done', done));
    fedkit.on('disconnected', ({ reason }) => {
      emit('disconnected', { reason });
      if (state !== 'finished' && state !== 'stopped' && state !== 'error') setState('reconnecting');
    });
    post({ type: 'ready', backend, clientId: stored.clientId, identityPublicKey: hex(stored.identity.publicKey), identityPersisted: stored.persisted });
    emit('backend', backend);
    fedkit.start().then(
      (finished) => {
        setState('finished');
        emit('finished', { reason: finished.reason, message: finished.message });
        trainer?.dispose();
      },
      (error: unknown) => {
        if (state === 'stopped') return;
        setState('error');
        emit('error', errorFields(error));
        trainer?.dispose();
      },
    );
  }

  return {
    handle(command) {
      switch (command.type) {
        case 'start':
          if (started) return;
          started = true;
          start(command).catch((error: unknown) => post({ type: 'failed', ...errorFields(error) }));
          return;
        case 'pause':
          if (gate === null) {
            let release!: () => void;
            const promise = new Promise<void>((resolve) => (release = resolve));
            gate = { promise, release };
          }
          emit('state', { state, paused: true });
          return;
        case 'resume':
          gate?.release();
          gate = null;
          emit('state', { state, paused: false });
          return;
        case 'stop':
          setState('stopped');
          gate?.release();
          gate = null;
          client?.stop();
          trainer?.dispose();
          return;
      }
    },
  };
}
