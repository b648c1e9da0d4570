/**
 * What the page and the training worker say to each other (and what the app hears). The
 * same runner also runs on the main thread where workers are unavailable, so these types
 * are the only coupling between the two sides.
 */
import type { LocalDataset } from '@fedkit/client-core';
import type { WebBackend, WebBackendInfo } from './backend.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The client's state, as an app would show it. */
export type WebClientState = 'connecting' | 'joined' | 'training' | 'evaluating' | 'idle' | 'reconnecting' | 'finished' | 'stopped' | 'error';

/** Events a web client emits to the app. */
export interface WebClientEvents {
  /** The backend chosen (or forced) and why; also sent to the server in the hello. */
  backend: WebBackendInfo;
  state: { state: WebClientState; paused: boolean };
  joined: { sessionId: string; clientId: string };
  'round-start': { round: number };
  /** After every batch of local training. */
  progress: { round: number; epoch: number; batch: number; batchesPerEpoch: number; loss: number };
  'train-done': { round: number; numExamples: number; metrics: Record<string, number> };
  'evaluate-done': { round: number; loss: number; accuracy: number; numExamples: number };
  disconnected: { reason: string };
  log: { level: LogLevel; message: string; fields?: Record<string, unknown> };
  /** A fatal error: the client stopped (e.g. data that does not fit the server's model). */
  error: { code: string; message: string; details?: Record<string, unknown> };
  finished: { reason: string; message: string };
}

export type WebClientEvent = { [K in keyof WebClientEvents]: { type: 'event'; event: K; payload: WebClientEvents[K] } }[keyof WebClientEvents];

/** Options that cross into the runner (plain data only). */
export interface RunnerConfig {
  serverUrl: string;
  backend: WebBackend | 'auto';
  wasmPaths: string;
  /** IndexedDB key of the stored identity. */
  identityKey: string;
  clientId?: string;
  /** Enrollment token presented in the hello. */
  authToken?: string;
  reconnect: { initialDelayMs: number; maxDelayMs: number };
  /** Where training runs, for the hello's backend reason. */
  mode: 'worker' | 'main-thread';
}

/** Page → runner. */
export type RunnerCommand =
  | { type: 'start'; config: RunnerConfig; train: LocalDataset; test?: LocalDataset }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' };

/** Runner → page. */
export type RunnerMessage =
  | WebClientEvent
  | { type: 'ready'; backend: WebBackendInfo; clientId: string; identityPublicKey: string; identityPersisted: boolean }
  | { type: 'failed'; code: string; message: string; details?: Record<string, unknown> };
