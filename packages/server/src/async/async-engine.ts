/**
 * The asynchronous (buffered, FedBuff) training loop, the server's `mode: 'async'`: rounds
 * replaced by model versions. Every idle joined client (up to `concurrency` at once) is
 * sent a train task on the current version; each update is checked against the version its
 * task carried, refused when staler than `maxStaleness` (or folded down-weighted, per
 * `staleRefusal`), and folded into @fedkit/aggregation's `fedBuff` buffer, which publishes
 * a version every K updates. Each published version is charged to the privacy ledger as one
 * release, evaluated (central and/or federated), and recorded as a RoundMetrics whose
 * `round` is the version.
 *
 * Timing decides which client trains on which version, so two runs with the same seed
 * need not give the same model: async mode is not reproducible the way `foldOrder:
 * 'client-id'` rounds are.
 */
import {
  FedkitError,
  assertFinite,
  assertSameLayout,
  decodeFloat32,
  encodeFloat32,
  isErrorCode,
  sampleWithoutReplacement,
  splitTransfer,
  type EvaluateResultMessage,
  type FinishedMessage,
  type TrainErrorMessage,
  type TrainResultMessage,
} from '@fedkit/protocol';
import { fedBuff, type BufferedAggregator, type PublishedVersion, type TrainConfig } from '@fedkit/aggregation';
import type { ClientInfo } from '../client-registry.js';
import type { ClientConnection } from '../connection.js';
import type { ClientFailure, EvaluationMetrics, RoundMetrics, ServerStage } from '../metrics.js';
import type { ServerParts } from '../server-parts.js';
import type { TrainingControl } from '../training-control.js';
import type { AsyncOptions } from './async-config.js';
import { TaskTable, type AsyncTask } from './task-table.js';
import { VersionEvaluation } from './version-evaluation.js';

/** What the engine needs from the server (FederationServer builds it). */
export interface AsyncHost extends ServerParts {
  /** The operator's pause / resume / stop: paused sends no new tasks, stop ends training. */
  readonly control: TrainingControl;
  /** The model the run starts from. */
  readonly start: { weights: Float32Array; version: number };
  connection(clientId: string): ClientConnection | undefined;
  /** The server's base train config for building `version` (learning-rate decay, local DP). */
  trainConfig(version: number): TrainConfig;
  /**
   * Makes `version` the server's global model, after its privacy charge and in the same
   * synchronous step (so a durable server commits the charge with the model it paid for).
   */
  publish(version: number, weights: Float32Array, metrics: RoundMetrics): void;
  centralEvaluate(weights: Float32Array, version: number): Promise<EvaluationMetrics | null> | null;
  record(metrics: RoundMetrics): void;
  setStage(stage: ServerStage): void;
  rejected(clientId: string, error: FedkitError): void;
}

export type AsyncFinish = { reason: FinishedMessage['reason']; message: string };

/** Failures kept per version in its metrics (the count is unbounded, the list is not). */
const MAX_FAILURES_LISTED = 100;

export class AsyncEngine {
  private readonly settings: AsyncOptions;
  private readonly buffer: BufferedAggregator;
  private readonly tasks: TaskTable;
  private readonly onePerBuffer: boolean;
  /** Clients whose update is in the open buffer (with central DP, one each per release). */
  private readonly contributors = new Set<string>();
  private readonly backoffUntil = new Map<string, number>();
  private evaluation: VersionEvaluation | null = null;
  private encoded: { version: number; bytes: Uint8Array } | null = null;
  private chain: Promise<void> = Promise.resolve();
  private finishing: AsyncFinish | null = null;
  private wake: (() => void) | null = null;
  private pumpQueued = false;
  private started = false;
  private stats = freshStats(Date.now());

  constructor(private readonly host: AsyncHost) {
    this.settings = host.options.async!;
    const s = this.settings;
    this.buffer = fedBuff(host.strategy, { weights: host.start.weights, layout: host.layout, version: host.start.version }, {
      bufferSize: s.bufferSize,
      // Past the limit, 'down-weight' folds with s(τ); 'refuse' is checked (before decoding) below too.
      maxStaleness: s.staleRefusal === 'refuse' ? s.maxStaleness : null,
      staleness: s.staleness,
    });
    this.tasks = new TaskTable(host.options.roundDeadlineMs, (task) => this.taskFailed(task, 'deadline-exceeded', `no update within the ${host.options.roundDeadlineMs} ms task deadline`));
    // A client folded twice into one release would double its sensitivity.
    this.onePerBuffer = host.options.privacy.mode === 'central';
  }

  get version(): number {
    return this.buffer.version;
  }

  /** Runs until maxVersions, the target accuracy, the budget, or `signal`; null when stopped by `signal`. */
  async run(signal: AbortSignal): Promise<AsyncFinish | null> {
    const { registry, options, control } = this.host;
    const waiting = AbortSignal.any([signal, control.stopSignal]);
    while (!waiting.aborted && registry.size < options.minClients) {
      this.host.setStage('waiting-for-clients');
      await registry.changed(waiting);
    }
    if (signal.aborted) return null;
    if (this.version >= this.settings.maxVersions) return { reason: 'completed', message: `published ${this.settings.maxVersions} model versions` };
    if (control.stopRequested) return { reason: 'stopped', message: `stopped by an operator before model version ${this.version + 1}` };
    const refusal = this.host.privacy.refusal(registry.size);
    if (refusal !== null) return { reason: 'budget-exhausted', message: `stopped before model version ${this.version + 1}: ${refusal}` };
    this.started = true;
    this.stats = freshStats(Date.now());
    const unsubscribe = control.onChange(() => this.onControl());
    this.onControl();
    while (!signal.aborted && this.finishing === null) {
      this.pump();
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        const unsubscribe = registry.changed(signal);
        void unsubscribe.then(resolve);
      });
      this.wake = null;
    }
    unsubscribe();
    this.stopWork(signal.aborted ? 'server-shutting-down' : 'round-closed', signal.aborted ? 'the server is shutting down' : 'training has finished');
    await this.chain;
    return signal.aborted ? null : this.finishing;
  }

  /** Follows the operator: stop finishes now (open tasks are cancelled), pause holds new tasks. */
  private onControl(): void {
    const { control } = this.host;
    if (control.stopRequested) this.finish({ reason: 'stopped', message: `stopped by an operator at model version ${this.version}` });
    else if (control.paused) this.host.setStage('paused');
    else {
      this.host.setStage('training');
      this.schedulePump();
    }
  }

  // ---- client events ------------------------------------------------------------------------

  onTrainResult(clientId: string, msg: TrainResultMessage, connection: ClientConnection): void {
    let task: AsyncTask;
    try {
      if (!this.started || this.finishing !== null) throw new FedkitError('round-not-open', `no training is running (task ${msg.round} was sent)`);
      task = this.tasks.claim(clientId, msg.round);
    } catch (error) {
      connection.transfers.drop(msg.transferId);
      this.host.rejected(clientId, error as FedkitError);
      throw error;
    }
    try {
      this.fold(clientId, task, msg, connection);
    } catch (error) {
      connection.transfers.drop(msg.transferId);
      const wire = error instanceof FedkitError ? error : new FedkitError('invalid-message', (error as Error).message);
      this.tasks.settle(task, 'failed');
      this.noteFailure({ clientId, code: wire.code, message: wire.message });
      // A stale update is the client's bad luck, not its fault: it gets a fresh task at once.
      this.release(clientId, wire.code !== 'update-stale');
      this.host.rejected(clientId, wire);
      throw wire;
    }
  }

  onTrainError(clientId: string, msg: TrainErrorMessage): void {
    const task = this.tasks.claim(clientId, msg.round);
    const code = isErrorCode(msg.error.code) ? msg.error.code : 'client-error';
    this.taskFailed(task, code, `client reported: ${msg.error.message}`);
  }

  onEvaluateResult(clientId: string, msg: EvaluateResultMessage): void {
    const evaluation = this.evaluation;
    if (evaluation === null) throw new FedkitError('round-not-open', 'no evaluation is open');
    evaluation.answer(clientId, msg);
    this.release(clientId, false);
  }

  onLeave(clientId: string): void {
    for (const task of this.tasks.ofClient(clientId)) {
      this.tasks.settle(task, 'failed');
      this.noteFailure({ clientId, code: 'client-disconnected', message: `the client disconnected during train task ${task.number}` });
    }
    this.evaluation?.fail(clientId, 'client-disconnected', 'the client disconnected during evaluation');
    this.backoffUntil.delete(clientId);
  }

  // ---- folding and publishing ------------------------------------------------------------------

  private fold(clientId: string, task: AsyncTask, msg: TrainResultMessage, connection: ClientConnection): void {
    const current = this.buffer.version;
    const claimed = msg.baseModelVersion;
    if (claimed !== undefined && claimed !== task.baseVersion) {
      throw new FedkitError(
        'invalid-message',
        claimed > current
          ? `train-result: field "baseModelVersion": model version ${claimed} was never published (the latest is ${current}); task ${task.number} was sent version ${task.baseVersion}`
          : `train-result: field "baseModelVersion": task ${task.number} was sent model version ${task.baseVersion}, the update claims ${claimed}`,
      );
    }
    const staleness = current - task.baseVersion;
    const beyond = staleness > this.settings.maxStaleness;
    if (beyond && this.settings.staleRefusal === 'refuse') {
      this.stats.refusedStale++;
      throw new FedkitError(
        'update-stale',
        `the update of train task ${task.number} was trained on model version ${task.baseVersion}, ${staleness} versions behind the current ${current}; at most ${this.settings.maxStaleness} are accepted`,
        { staleness, maxStaleness: this.settings.maxStaleness },
      );
    }
    const received = connection.transfers.take(msg.transferId);
    assertSameLayout(this.host.layout, msg.layout);
    const update = decodeFloat32(received, this.host.layout);
    assertFinite(update, this.host.layout);
    const aggregateStart = Date.now();
    const outcome = this.buffer.offer({ clientId, numExamples: msg.numExamples, update, metrics: msg.metrics, baseVersion: task.baseVersion });
    this.tasks.settle(task, 'answered');
    this.stats.bytesIn += received.byteLength;
    if (beyond) this.stats.downWeighted++;
    this.contributors.add(clientId);
    this.release(clientId, false);
    if (outcome.kind === 'published') this.published(outcome.published, Date.now() - aggregateStart);
    else if (outcome.kind === 'dropped') {
      this.host.logger.warn({ version: current + 1 }, 'the strategy could not aggregate the buffer; its updates were dropped');
      this.contributors.clear();
    }
  }

  private published(published: PublishedVersion, aggregateMs: number): void {
    const now = Date.now();
    const { version, weights } = published;
    this.host.privacy.charge();
    this.contributors.clear();
    const s = this.stats;
    const metrics: RoundMetrics = {
      round: version,
      attempt: 1,
      status: 'completed',
      modelVersion: version,
      selected: s.tasksSent,
      replied: this.settings.bufferSize,
      failed: s.failures,
      startedAt: new Date(s.startedAt).toISOString(),
      durationMs: now - s.startedAt,
      trainPhaseMs: now - s.startedAt,
      aggregateMs,
      evaluateMs: 0,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      train: published.metrics,
      async: {
        updatesFolded: this.settings.bufferSize,
        stalenessMean: published.metrics.stalenessMean ?? 0,
        stalenessMax: published.metrics.stalenessMax ?? 0,
        downWeighted: s.downWeighted,
        refusedStale: s.refusedStale,
        tasksSent: s.tasksSent,
      },
    };
    if (this.host.options.privacy.mode !== 'none') metrics.privacy = this.host.privacy.snapshot();
    this.host.publish(version, weights, metrics);
    this.stats = freshStats(now);
    this.host.logger.info({ version, stalenessMean: metrics.async!.stalenessMean }, `model version ${version} published`);

    if (version >= this.settings.maxVersions) {
      this.finish({ reason: 'completed', message: `published ${this.settings.maxVersions} model versions` });
    } else {
      const refusal = this.host.privacy.refusal(this.host.registry.size);
      if (refusal !== null) this.finish({ reason: 'budget-exhausted', message: `stopped before model version ${version + 1}: ${refusal}` });
    }
    const evaluation = this.startEvaluation(version, weights);
    this.chain = this.chain.then(() => this.complete(metrics, weights, evaluation));
  }

  /** Evaluates a published version (central and federated), records it, checks the target. */
  private async complete(metrics: RoundMetrics, weights: Float32Array, evaluation: VersionEvaluation | null): Promise<void> {
    const start = Date.now();
    let central: EvaluationMetrics | null = null;
    try {
      central = await (this.host.centralEvaluate(weights, metrics.round) ?? null);
    } catch (error) {
      this.host.logger.error({ err: error, version: metrics.round }, 'central evaluation failed');
    }
    let federated: EvaluationMetrics | null = null;
    if (evaluation !== null) {
      await evaluation.done;
      const summary = this.host.strategy.aggregateEvaluate(metrics.round, evaluation.replies, evaluation.failures);
      if (summary !== null) federated = { loss: summary.loss, accuracy: summary.accuracy, numExamples: summary.numExamples, numClients: summary.numClients };
    }
    if (central !== null || evaluation !== null) metrics.evaluateMs = Date.now() - start;
    if (central !== null) metrics.centralEvaluation = central;
    if (federated !== null) metrics.federatedEvaluation = federated;
    const chosen = central ?? federated;
    if (chosen !== null) {
      metrics.accuracy = chosen.accuracy;
      metrics.loss = chosen.loss;
    }
    this.host.record(metrics);
    const target = this.host.options.targetAccuracy;
    if (target !== undefined && metrics.accuracy !== undefined && metrics.accuracy >= target) {
      this.finish({ reason: 'completed', message: `reached target accuracy ${target} at model version ${metrics.round}` });
    }
  }

  /** Starts federated evaluation of `version` when due and none is running. */
  private startEvaluation(version: number, weights: Float32Array): VersionEvaluation | null {
    const { every, fraction, deadlineMs } = this.host.options.evaluate;
    if (every === 0 || version % every !== 0 || this.evaluation !== null || this.finishing !== null) return null;
    const eligible = this.host.registry.all().filter((c) => c.numEvalExamples > 0).length;
    if (eligible === 0) return null;
    const evaluation = new VersionEvaluation(version, weights, Math.max(1, Math.ceil(fraction * eligible)), deadlineMs);
    this.evaluation = evaluation;
    void evaluation.done.then(() => {
      if (this.evaluation === evaluation) this.evaluation = null;
      // Clients that never answered are free again (the ones that answered already are).
      for (const client of this.host.registry.all()) if (client.busyWith === `e${version}`) client.busyWith = null;
      this.schedulePump();
    });
    return evaluation;
  }

  // ---- dispatching -----------------------------------------------------------------------------

  /** Gives work to idle clients: evaluation first when one wants them, then train tasks. */
  private pump(): void {
    this.pumpQueued = false;
    if (!this.started || this.finishing !== null || this.host.control.paused) return;
    const now = Date.now();
    let idle = this.host.registry.idle().filter((c) => (this.backoffUntil.get(c.clientId) ?? 0) <= now);
    const evaluation = this.evaluation;
    if (evaluation !== null) {
      for (const client of idle.filter((c) => evaluation.wants(c))) this.sendEvaluate(client, evaluation);
      idle = idle.filter((c) => c.busyWith === null);
    }
    if (this.onePerBuffer) idle = idle.filter((c) => !this.contributors.has(c.clientId));
    const free = Math.min(idle.length, (this.settings.concurrency ?? Number.POSITIVE_INFINITY) - this.tasks.inFlight);
    if (free <= 0) return;
    for (const client of sampleWithoutReplacement(this.host.random, idle, free)) {
      if (this.finishing !== null) return;
      this.sendTask(client);
    }
  }

  private schedulePump(delayMs = 0): void {
    if (delayMs > 0) {
      setTimeout(() => this.schedulePump(), delayMs).unref?.();
      return;
    }
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    // After the current handler has answered its ack, so the client sees the ack first.
    setImmediate(() => this.pump());
  }

  private sendTask(client: ClientInfo): void {
    const planned = this.buffer.configureTrain(this.host.trainConfig(this.buffer.version + 1));
    if (planned === null) {
      this.finish({ reason: 'stopped', message: `the strategy skipped training for model version ${this.buffer.version + 1}` });
      return;
    }
    const connection = this.host.connection(client.clientId);
    if (connection === undefined) return;
    const task = this.tasks.begin(client.clientId, planned.version);
    client.busyWith = `a${task.number}`;
    const transferId = `w-v${planned.version}-t${task.number}`;
    this.stats.bytesOut += this.sendWeights(connection, transferId, planned.version, null);
    this.stats.tasksSent++;
    connection.socket.emit('train', { round: task.number, modelVersion: planned.version, transferId, deadlineMs: this.host.options.roundDeadlineMs, config: planned.config });
  }

  private sendEvaluate(client: ClientInfo, evaluation: VersionEvaluation): void {
    const config = this.host.strategy.configureEvaluate(evaluation.version, { batchSize: this.host.options.evaluate.batchSize });
    const connection = this.host.connection(client.clientId);
    if (config === null) {
      evaluation.close();
      return;
    }
    if (connection === undefined) return;
    evaluation.asking(client.clientId);
    client.busyWith = `e${evaluation.version}`;
    const transferId = `w-e${evaluation.version}-${client.clientId}`;
    this.stats.bytesOut += this.sendWeights(connection, transferId, evaluation.version, evaluation.weights);
    connection.socket.emit('evaluate', { round: evaluation.version, modelVersion: evaluation.version, transferId, deadlineMs: this.host.options.evaluate.deadlineMs, config });
  }

  /** Sends `weights` (or the current version, encoded once per version) as one transfer; returns its bytes. */
  private sendWeights(connection: ClientConnection, transferId: string, version: number, weights: Float32Array | null): number {
    let bytes: Uint8Array;
    if (weights !== null) bytes = encodeFloat32(weights);
    else {
      if (this.encoded?.version !== version) this.encoded = { version, bytes: encodeFloat32(this.buffer.weights()) };
      bytes = this.encoded.bytes;
    }
    for (const chunk of splitTransfer(transferId, bytes, this.host.options.transfer.maxChunkBytes, this.host.checksum)) connection.socket.emit('chunk', chunk);
    return bytes.byteLength;
  }

  // ---- bookkeeping -----------------------------------------------------------------------------

  private taskFailed(task: AsyncTask, code: ClientFailure['code'], message: string): void {
    this.tasks.settle(task, 'failed');
    this.noteFailure({ clientId: task.clientId, code, message });
    this.host.logger.warn({ task: task.number, clientId: task.clientId, code }, message);
    this.release(task.clientId, true);
  }

  /** Marks `clientId` idle (after a back-off when its task failed) and looks for work. */
  private release(clientId: string, failed: boolean): void {
    const client = this.host.registry.get(clientId);
    if (client !== undefined) client.busyWith = null;
    const backoffMs = failed ? this.settings.failureBackoffMs : 0;
    if (backoffMs > 0) this.backoffUntil.set(clientId, Date.now() + backoffMs);
    else this.backoffUntil.delete(clientId);
    this.schedulePump(backoffMs);
  }

  private noteFailure(failure: ClientFailure): void {
    if (this.stats.failures.length < MAX_FAILURES_LISTED) this.stats.failures.push(failure);
  }

  private finish(finish: AsyncFinish): void {
    if (this.finishing !== null) return;
    this.finishing = finish;
    this.wake?.();
  }

  /** Cancels open tasks and the evaluation, and frees their clients. */
  private stopWork(code: ClientFailure['code'], message: string): void {
    for (const task of this.tasks.cancelAll()) {
      const client = this.host.registry.get(task.clientId);
      if (client !== undefined && client.busyWith === `a${task.number}`) client.busyWith = null;
    }
    this.evaluation?.close(code, message);
  }
}

function freshStats(startedAt: number): { startedAt: number; tasksSent: number; bytesIn: number; bytesOut: number; downWeighted: number; refusedStale: number; failures: ClientFailure[] } {
  return { startedAt, tasksSent: 0, bytesIn: 0, bytesOut: 0, downWeighted: 0, refusedStale: 0, failures: [] };
}
