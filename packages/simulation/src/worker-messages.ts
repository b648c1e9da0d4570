/**
 * The messages between the simulation's main thread and its worker threads. A worker hosts
 * the protocol sessions (FedkitClient + socket) of some virtual clients; training jobs go
 * through the main thread's scheduler, which hands each to whichever worker's engine is
 * free, so work is balanced whatever clients the server sampled.
 */
import type { ResolvedPartitionSpec } from '@fedkit/client-core';
import type { WeightsLayout, WireTrainConfig } from '@fedkit/protocol';
import type { ResolvedAttack } from './attack.js';
import type { ChurnSettings } from './churn.js';
import type { DatasetConfig } from './config.js';

export interface SimWorkerData {
  workerIndex: number;
  serverUrl: string;
  /** Indices of the virtual clients whose sessions this worker hosts. */
  hosted: number[];
  /** Training examples of every client (index → n_k), announced in each hello. */
  numExamples: number[];
  numClients: number;
  seed: number;
  dataset: DatasetConfig;
  partition: ResolvedPartitionSpec;
  topology: Record<string, unknown>;
  layout: WeightsLayout;
  faults: { dropout: number; straggler: number; stragglerDelayMs: number; stragglerDelayMaxMs?: number | undefined };
  /**
   * Online/offline periods of every client; null = always online. Every client starts online
   * and follows its timeline from the `churn-start` message's epoch on.
   */
  churn: ChurnSettings | null;
  /** Byzantine clients and what they send; null = all honest. */
  attack: ResolvedAttack | null;
  /** Test hook: throw (crash the thread) when starting a job of this round. */
  crashAtRound: number | null;
}

/** A training job: one client's local training in one round. */
export interface TrainJob {
  jobId: number;
  clientIndex: number;
  round: number;
  config: WireTrainConfig;
  weights: Float32Array;
}

export type JobOutcome =
  | { ok: true; update: Float32Array; numExamples: number; metrics: Record<string, number> }
  | { ok: false; code: string; message: string };

export type WorkerToMain =
  | { kind: 'ready' }
  | { kind: 'job'; job: TrainJob }
  | { kind: 'job-done'; jobId: number; outcome: JobOutcome }
  /** The client went offline before its job ran: drop it from the queue (answered as failed). */
  | { kind: 'cancel'; jobId: number }
  | { kind: 'log'; level: 'warn' | 'error'; message: string };

export type MainToWorker =
  | { kind: 'run'; job: TrainJob }
  | { kind: 'result'; jobId: number; outcome: JobOutcome }
  /** Churn begins: every client follows its timeline from `epochMs` (Date.now() of the main thread). */
  | { kind: 'churn-start'; epochMs: number }
  | { kind: 'stop' };
