/**
 * The coordinator's round loop: the synchronous loop of sync/round-loop.ts (stop, pause,
 * wait for clients, privacy budget, retries) over the whole cluster. Each completed round
 * is published to Redis first (fenced by the lock), then committed to the data dir; a
 * coordinator that cannot publish (it lost the lock) puts the model, the strategy state and
 * the privacy ledger back as they were, so the round and its privacy charge happen once,
 * on whichever coordinator publishes them.
 */
import { FedkitError } from '@fedkit/protocol';
import type { RoundMetrics } from '../metrics.js';
import type { LoopFinish } from '../sync/round-loop.js';
import type { SyncContext } from '../sync/sync-context.js';
import { runCentralEvaluation } from '../sync/evaluate-phase.js';
import type { TrainingControl } from '../training-control.js';
import type { ClusterLink } from './cluster-link.js';
import { runClusterEvaluation } from './cluster-evaluation.js';
import { completeClusterRound, runClusterRound } from './cluster-round.js';
import { replaceLastRecord } from './cluster-state.js';
import { clientUnion, liveMembers } from './membership.js';
import { closeTask, dropTaskKeys, readTask } from './round-task.js';
import { dropSecAggKeys } from './secagg-channel.js';

export interface CoordinatorHost extends SyncContext {
  readonly control: TrainingControl;
  readonly link: ClusterLink;
  /** The last completed round (from the shared state). */
  lastCompletedRound(): number;
  stopReason(): LoopFinish['reason'];
  record(metrics: RoundMetrics): void;
  /**
   * Publishes the state with `completedRound` as the last completed round (and `record` into
   * the shared history); false when the lock is lost.
   */
  publish(record: RoundMetrics | null, completedRound: number): Promise<boolean>;
}

/**
 * Runs rounds until training ends (the finish) or `leader` aborts (null: this process is no
 * longer the coordinator). `signal` is the server's stop.
 */
export async function runCoordinator(host: CoordinatorHost, signal: AbortSignal, leader: AbortSignal): Promise<LoopFinish | null> {
  const { options, control, link, model } = host;
  const both = AbortSignal.any([signal, leader]);
  let round = host.lastCompletedRound() + 1;
  let attempt = 1;
  // A training round the previous coordinator left in flight on this model is finished with
  // what the processes stored for it (no acknowledged update is lost). Any other task left
  // open (an evaluation, a round on an older model, a SecAgg+ round: its state machine died
  // with the coordinator) is closed; a training round of this round number is retried as a
  // new attempt.
  // (A task closed but still recorded was not published: the predecessor died between the
  // two, and its stored partials are final.)
  const { task, openId } = await readTask(link.redis, link.keys);
  const thisRound = task !== null && (task.kind ?? 'train') === 'train' && task.round === round;
  let inherited = thisRound && task.modelVersion === model.version && options.secureAggregation?.enabled !== true ? task : null;
  if (thisRound && inherited === null) attempt = task.attempt + 1;
  if (task !== null && inherited === null && openId === task.id) await closeTask(link.redis, link.keys, task.id, link.processId);
  // Every task left behind is closed now. A SecAgg+ attempt's keys (public keys, unmask
  // shares, masked sums) must not outlive it next to the retry's; no process can forward into
  // them once the task is closed. (A plain inherited round has none.)
  if (task !== null && inherited === null) {
    await dropSecAggKeys(link.redis, link.keys, task.id, Object.values(task.assignments)).catch((error: Error) => host.logger.warn({ taskId: task.id, err: error.message }, 'could not drop an abandoned task\'s secure-aggregation keys (they expire)'));
  }
  if (round > options.rounds) return { reason: 'completed', message: `already completed ${round - 1} rounds` };
  for (;;) {
    if (leader.aborted) return null;
    if (signal.aborted) return { reason: host.stopReason(), message: 'training was stopped' };
    if (control.stopRequested) return { reason: 'stopped', message: `stopped by an operator before round ${round}` };
    await control.whilePaused(both, () => host.setStage('paused'));
    if (both.aborted || control.stopRequested) continue;
    model.round = round;
    const available = await waitForClients(host, both);
    if (available === null) continue;
    const refusal = host.privacy.refusal(available);
    if (refusal !== null) return { reason: 'budget-exhausted', message: `stopped before round ${round}: ${refusal}` };
    const before = { weights: model.weights, version: model.version, strategy: host.strategy.exportState?.(), privacy: host.privacy.exportState() };
    let outcome;
    const resumed = inherited;
    inherited = null;
    try {
      if (resumed !== null) {
        host.logger.info({ round, taskId: resumed.id }, 'cluster: finishing the round the previous coordinator left in flight');
        attempt = resumed.attempt;
        outcome = await completeClusterRound(host, link, resumed, both);
      } else outcome = await runClusterRound(host, link, round, attempt, both);
    } catch (error) {
      if (leader.aborted) return null;
      // Retried under a new task id: the processes take it up afresh, and nothing the failed
      // attempt left in Redis (events, partials) is read again. A Redis error is not counted
      // against maxRoundAttempts (a Redis restart can take many polls); anything else is.
      const coded = error instanceof FedkitError;
      host.logger.warn({ round, err: (error as Error).message, code: coded ? error.code : undefined }, coded ? 'cluster round failed; retrying' : 'cluster round failed (Redis unavailable?); retrying');
      if (coded && attempt >= options.maxRoundAttempts) return { reason: 'stopped', message: `round ${round} failed ${attempt} times: ${error.message}` };
      attempt++;
      await new Promise((resolve) => setTimeout(resolve, options.cluster!.pollMs));
      continue;
    }
    // Stopped or lost the lock mid-round: the round is neither failed nor dropped; its task
    // stays open for the next coordinator, which finishes it.
    if (outcome.result === null && both.aborted) {
      if (leader.aborted) return null;
      return { reason: host.stopReason(), message: 'training was stopped' };
    }
    const metrics = outcome.metrics;
    if (outcome.result !== null) {
      model.weights = outcome.result.weights;
      model.version++;
      host.privacy.charge();
      metrics.modelVersion = model.version;
      if (options.privacy.mode !== 'none') metrics.privacy = host.privacy.snapshot();
      await centralEvaluation(host, round, metrics);
      metrics.durationMs = Date.now() - Date.parse(metrics.startedAt);
      // Published with its record; with federated evaluation the record is replaced once the
      // evaluation is in (a coordinator that dies before that leaves the record without it).
      const evaluates = options.evaluate.every > 0 && round % options.evaluate.every === 0;
      if (!(await publishOrFalse(host, metrics, round))) {
        // Lost the lock: this round was not released; undo it here.
        model.weights = before.weights;
        model.version = before.version;
        if (before.strategy !== undefined) host.strategy.importState?.(before.strategy);
        host.privacy.importState(before.privacy);
        return null;
      }
      host.durable?.commit({ round, modelVersion: model.version, weights: model.weights, history: [...host.history(), metrics] });
      await dropTask(host, outcome.taskId);
      if (evaluates) {
        await federatedEvaluation(host, round, metrics, both);
        await replaceLastRecord(link.redis, link.keys, link.processId, metrics).catch((error: Error) => host.logger.warn({ err: error.message }, 'could not record the round\'s evaluation in Redis'));
      }
      host.record(metrics);
      const target = options.targetAccuracy;
      if (target !== undefined && metrics.accuracy !== undefined && metrics.accuracy >= target) return { reason: 'completed', message: `reached target accuracy ${target} in round ${round}` };
      if (round >= options.rounds) return { reason: 'completed', message: `completed ${round} rounds` };
      round++;
      attempt = 1;
    } else {
      host.record(metrics);
      // Lost the lock: another process coordinates now; opening a task here would race it.
      if (!(await publishOrFalse(host, metrics, host.lastCompletedRound()))) return null;
      await dropTask(host, outcome.taskId);
      if (both.aborted) continue;
      if (attempt >= options.maxRoundAttempts) return { reason: 'stopped', message: `round ${round} failed ${attempt} times: ${metrics.reason}` };
      attempt++;
    }
  }
}

/** Drops a recorded round's task keys (they expire on their own if this fails). */
async function dropTask(host: CoordinatorHost, taskId: string | null): Promise<void> {
  if (taskId === null) return;
  await dropTaskKeys(host.link.redis, host.link.keys, taskId).catch((error: Error) => host.logger.warn({ taskId, err: error.message }, 'could not drop a finished task\'s keys (they expire)'));
}

async function publishOrFalse(host: CoordinatorHost, record: RoundMetrics | null, completedRound: number): Promise<boolean> {
  try {
    return await host.publish(record, completedRound);
  } catch (error) {
    host.logger.warn({ err: (error as Error).message }, 'could not publish the round to Redis');
    return false;
  }
}

async function centralEvaluation(host: CoordinatorHost, round: number, metrics: RoundMetrics): Promise<void> {
  if (host.centralEvaluate() === undefined) return;
  host.setStage('evaluating');
  const start = Date.now();
  const result = await runCentralEvaluation(host, round);
  if (result !== null) {
    metrics.centralEvaluation = result;
    metrics.accuracy = result.accuracy;
    metrics.loss = result.loss;
  }
  metrics.evaluateMs = Date.now() - start;
}

/** Federated evaluation across the cluster; its result sets accuracy and loss unless central evaluation did. */
async function federatedEvaluation(host: CoordinatorHost, round: number, metrics: RoundMetrics, signal: AbortSignal): Promise<void> {
  host.setStage('evaluating');
  const start = Date.now();
  try {
    const result = await runClusterEvaluation(host, host.link, round, signal);
    if (result !== null) {
      metrics.federatedEvaluation = result;
      if (metrics.centralEvaluation === undefined) {
        metrics.accuracy = result.accuracy;
        metrics.loss = result.loss;
      }
    }
  } catch (error) {
    host.logger.warn({ round, err: (error as Error).message }, 'cluster federated evaluation failed (Redis unavailable?)');
  }
  metrics.evaluateMs += Date.now() - start;
}

/** Waits until the cluster has enough clients; resolves to how many, or null when stopped. */
async function waitForClients(host: CoordinatorHost, signal: AbortSignal): Promise<number | null> {
  const { options, link } = host;
  const needed = Math.max(options.minClients, options.sampling.minFit);
  while (!signal.aborted) {
    try {
      const available = clientUnion(await liveMembers(link.redis, link.keys, host.logger)).length;
      if (available >= needed) return available;
    } catch (error) {
      host.logger.warn({ err: (error as Error).message }, 'cannot read the cluster members (Redis unavailable?)');
    }
    host.setStage('waiting-for-clients');
    await new Promise((resolve) => setTimeout(resolve, options.cluster!.pollMs));
  }
  return null;
}
