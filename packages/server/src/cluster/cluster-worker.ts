/**
 * The part of a training round every process runs for its own clients: when the
 * coordinator opens a task assigning some of this process's clients, send them the global
 * model and the train request, fold their replies into a local accumulator (through the
 * usual client handlers), store the partial in Redis (partial-flusher.ts), and report the
 * clients that failed. The coordinator's process runs this too, for its clients.
 */
import type { Redis } from 'ioredis';
import type { EvaluateConfig, TrainConfig } from '@fedkit/aggregation';
import type { ClientInfo } from '../client-registry.js';
import { RoundPhase } from '../round-phase.js';
import { sendGlobalWeights } from '../sync/send-weights.js';
import { roundKeysFor } from '../sync/train-phase.js';
import type { SyncContext } from '../sync/sync-context.js';
import type { ClusterKeys } from './keys.js';
import { PartialFlusher } from './partial-flusher.js';
import { reportPartial, type ClusterTask, type TaskEvent } from './round-task.js';
import { runSecureLocalRound } from './secagg-relay.js';

/** Task ids remembered as already taken up (ids only move forward; a few suffice). */
const SEEN_TASKS_KEPT = 16;

interface LocalRound {
  task: ClusterTask;
  phase: RoundPhase;
  /** Training only: stores the partial sums. */
  flusher: PartialFlusher | null;
  selected: ClientInfo[];
  finished: Promise<void>;
}

export class ClusterWorker {
  private local: LocalRound | null = null;
  /** Set by close(): no new task is taken up. */
  private closed = false;
  /** Ids of tasks this process has already taken up. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly ctx: SyncContext,
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    private readonly processId: string,
  ) {}

  /** The flusher of the round in flight here (client-handlers ack through it), or null. */
  get flusher(): PartialFlusher | null {
    return this.local?.flusher ?? null;
  }

  /**
   * Acts on the task Redis holds now: takes up a new one (when the local model is at its
   * version), or closes the local round when its task is no longer open.
   */
  async onTask(task: ClusterTask | null, openId: string | null): Promise<void> {
    const local = this.local;
    if (local !== null && (openId !== local.task.id || local.phase.remainingMs() === 0)) {
      local.phase.close('round-closed', 'the coordinator closed the round');
    }
    if (this.closed || task === null || openId !== task.id || this.seen.has(task.id) || this.local !== null) return;
    if (task.modelVersion !== this.ctx.model.version) return;
    this.seen.add(task.id);
    // Task ids only move forward: the last few are enough to recognise one already taken up.
    if (this.seen.size > SEEN_TASKS_KEPT) this.seen.delete(this.seen.values().next().value!);
    const mine = Object.entries(task.assignments)
      .filter(([, processId]) => processId === this.processId)
      .map(([clientId]) => clientId);
    if (mine.length === 0) return;
    if (task.kind === 'evaluate') this.evaluate(task, mine);
    else this.start(task, mine);
  }

  /** Closes the local round (server closing). */
  async close(): Promise<void> {
    this.closed = true;
    const local = this.local;
    if (local === null) return;
    local.phase.close('server-shutting-down', 'the server is shutting down');
    await local.finished;
  }

  /** This process's assigned clients that are here and idle, and the others as failures. */
  private pick(mine: string[]): { selected: ClientInfo[]; missing: TaskEvent['failed'] } {
    const selected: ClientInfo[] = [];
    const missing: TaskEvent['failed'] = [];
    for (const clientId of mine) {
      const info = this.ctx.registry.get(clientId);
      if (info === undefined || info.busyWith !== null) missing.push({ clientId, code: 'client-disconnected', message: 'the client left its process before the request was sent' });
      else selected.push(info);
    }
    return { selected, missing };
  }

  /** Federated evaluation of this process's sampled clients; their replies go into one report. */
  private evaluate(task: ClusterTask, mine: string[]): void {
    const { ctx } = this;
    const { selected, missing } = this.pick(mine);
    const tag = task.id;
    for (const client of selected) client.busyWith = tag;
    const phase = new RoundPhase('evaluate', task.round, new Set(selected.map((c) => c.clientId)), Math.max(1, task.deadlineAt - Date.now()));
    ctx.open.evaluatePhase = phase;
    ctx.open.evaluateReplies = [];
    ctx.setStage('evaluating');
    sendGlobalWeights(ctx, selected, phase, tag, (connection, transferId) =>
      connection.socket.emit('evaluate', { round: task.round, modelVersion: task.modelVersion, transferId, deadlineMs: phase.remainingMs(), config: task.config as EvaluateConfig }),
    );
    const finished = (async () => {
      await phase.done;
      const replies = ctx.open.evaluateReplies;
      if (ctx.open.evaluatePhase === phase) {
        ctx.open.evaluatePhase = null;
        ctx.open.evaluateReplies = [];
      }
      for (const client of selected) if (client.busyWith === tag) client.busyWith = null;
      const failed = [...missing, ...phase.failures.map((f) => ({ clientId: f.clientId, code: f.code, message: f.message }))];
      await reportPartial(this.redis, this.keys, task, { processId: this.processId, answered: replies.map((r) => r.clientId), failed, evaluations: replies }, null);
      if (this.local?.task.id === task.id) this.local = null;
      ctx.setStage('waiting-for-clients');
    })().catch((error: unknown) => {
      if (this.local?.task.id === task.id) this.local = null;
      ctx.logger.warn({ err: (error as Error).message, taskId: task.id }, 'cluster evaluation could not report (Redis unavailable?)');
    });
    this.local = { task, phase, flusher: null, selected, finished };
  }

  private start(task: ClusterTask, mine: string[]): void {
    const { ctx } = this;
    const { selected, missing } = this.pick(mine);
    if (ctx.options.secureAggregation?.enabled === true) {
      const link = { redis: this.redis, keys: this.keys, processId: this.processId };
      const release = (): void => {
        if (this.local?.task.id === task.id) this.local = null;
      };
      const { phase, finished } = runSecureLocalRound(ctx, link, task, selected, missing, (p) => this.sendTrain(task, selected, p), release);
      this.local = { task, phase, flusher: null, selected, finished };
      return;
    }
    const tag = task.id;
    for (const client of selected) client.busyWith = tag;
    const accumulator = ctx.strategy.beginTrain(task.round, ctx.model.weights, ctx.layout);
    const phase = new RoundPhase('train', task.round, new Set(selected.map((c) => c.clientId)), Math.max(1, task.deadlineAt - Date.now()));
    const flusher = PartialFlusher.forAccumulator(this.redis, this.keys, this.processId, task, accumulator, ctx.logger, ctx.options.cluster!.pollMs);
    // With encryptUpdates each process holds its own round key pair: its clients seal to it,
    // and it opens their updates before folding them (the partial sums are plaintext sums).
    const roundKeys = roundKeysFor(ctx.options, task.round);
    ctx.open.roundKeys = roundKeys;
    ctx.open.accumulator = accumulator;
    ctx.open.trainPhase = phase;
    ctx.open.lastTrainPhase = phase;
    ctx.open.bytesIn = 0;
    ctx.setStage('training');
    this.sendTrain(task, selected, phase, roundKeys?.keyring.publicKey);
    /** Frees what the round holds (idempotent): after the phase, and on any failure, or this process would never take up another task. */
    const free = (): void => {
      if (ctx.open.trainPhase === phase) {
        ctx.open.trainPhase = null;
        ctx.open.accumulator = null;
      }
      roundKeys?.keyring.destroy();
      if (ctx.open.roundKeys === roundKeys) ctx.open.roundKeys = null;
      for (const client of selected) if (client.busyWith === tag) client.busyWith = null;
    };
    const finished = (async () => {
      await flusher.reportFailures(missing);
      await phase.done;
      free();
      await flusher.close();
      await flusher.reportFailures(phase.failures.map((f) => ({ clientId: f.clientId, code: f.code, message: f.message })));
      ctx.setStage('waiting-for-clients');
    })()
      .catch((error: unknown) => {
        free();
        ctx.logger.error({ err: error, taskId: task.id }, 'cluster round failed locally');
      })
      .finally(() => {
        if (this.local?.task.id === task.id) this.local = null;
      });
    this.local = { task, phase, flusher, selected, finished };
    ctx.logger.info({ taskId: task.id, clients: selected.length }, 'cluster round: training local clients');
  }

  /** Sends the global model and the train request to this process's selected clients. */
  private sendTrain(task: ClusterTask, selected: ClientInfo[], phase: RoundPhase, roundPublicKey?: Uint8Array): void {
    sendGlobalWeights(this.ctx, selected, phase, task.id, (connection, transferId) =>
      connection.socket.emit('train', {
        round: task.round,
        modelVersion: task.modelVersion,
        transferId,
        deadlineMs: phase.remainingMs(),
        config: task.config as TrainConfig,
        ...(roundPublicKey === undefined ? {} : { roundPublicKey }),
      }),
    );
  }
}
