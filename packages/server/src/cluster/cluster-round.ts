/**
 * One attempt at a training round, as the coordinator runs it across the cluster: sample
 * from the union of live processes' clients, open a task (round-task.ts), follow the
 * processes' reports until every selected client has answered or failed (a process that
 * died fails its unreported clients), the first m replies are in, or the deadline passes;
 * then close the task, merge the stored partial sums into one accumulator of the strategy,
 * and let the strategy aggregate as in one process. The caller commits the result, then
 * drops the task's keys: until the round is published its stored partials stay in Redis,
 * so a coordinator that takes over finishes the same round with them
 * (`completeClusterRound`) instead of losing updates already acknowledged. Under secure
 * aggregation the attempt runs as cluster-secagg.ts describes instead.
 */
import { FedkitError } from '@fedkit/protocol';
import type { AggregateResult, Failure, UpdateAccumulator } from '@fedkit/aggregation';
import type { RoundMetrics } from '../metrics.js';
import { aggregateFolded, emptyMetrics, sampleCohort, trainConfigFor } from '../sync/train-phase.js';
import type { SyncContext } from '../sync/sync-context.js';
import type { ClusterLink } from './cluster-link.js';
import { clientUnion, liveMembers } from './membership.js';
import { followTask } from './follow-task.js';
import { newTaskId, openTask, readPartials, type ClusterTask } from './round-task.js';
import { decodePartial } from './partial-codec.js';
import { runSecureClusterRound } from './cluster-secagg.js';

export interface ClusterRoundOutcome {
  metrics: RoundMetrics;
  /** The strategy's result when the round aggregated; the caller commits it. */
  result: AggregateResult | null;
  /** The task whose keys the caller drops once the outcome is recorded (null: none opened). */
  taskId: string | null;
}

/** Runs one attempt; never commits. `signal` aborts when this process loses the lock. */
export async function runClusterRound(ctx: SyncContext, link: ClusterLink, round: number, attempt: number, signal: AbortSignal): Promise<ClusterRoundOutcome> {
  const { options, model } = ctx;
  const startedAt = Date.now();
  const available = clientUnion(await liveMembers(link.redis, link.keys, ctx.logger));
  const { wanted, selected } = sampleCohort(ctx.random, available, options.sampling);
  const config = ctx.strategy.configureTrain(round, trainConfigFor(options, ctx.privacy, round));
  if (config === null) {
    const base = emptyMetrics(model.version, round, attempt, startedAt, selected.length);
    return { metrics: { ...base, status: 'failed', reason: 'the strategy skipped training this round', durationMs: Date.now() - startedAt }, result: null, taskId: null };
  }
  const task: ClusterTask = {
    id: newTaskId(`r${round}a${attempt}`),
    round,
    attempt,
    modelVersion: model.version,
    config,
    startedAt,
    deadlineAt: startedAt + options.roundDeadlineMs,
    target: Math.min(wanted, selected.length),
    assignments: Object.fromEntries(selected.map((s) => [s.client.clientId, s.processId])),
  };
  if (options.secureAggregation?.enabled === true) return runSecureClusterRound(ctx, link, task, signal);
  if (!(await openTask(link.redis, link.keys, task, link.processId))) {
    const base = emptyMetrics(model.version, round, attempt, startedAt, selected.length);
    return { metrics: { ...base, status: 'failed', reason: 'the coordinator lost its lock', durationMs: Date.now() - startedAt }, result: null, taskId: null };
  }
  return completeClusterRound(ctx, link, task, signal);
}

/**
 * Finishes the training task `task` (open, or already closed by a coordinator that died
 * before publishing): follows the reports, merges every stored partial, aggregates. Never
 * commits.
 */
export async function completeClusterRound(ctx: SyncContext, link: ClusterLink, task: ClusterTask, signal: AbortSignal): Promise<ClusterRoundOutcome> {
  const { options, model, logger } = ctx;
  const { round, attempt } = task;
  const startedAt = task.startedAt ?? Date.now();
  const selected = Object.keys(task.assignments);
  const base = emptyMetrics(model.version, round, attempt, startedAt, selected.length);
  const fail = (reason: string, extra: Partial<RoundMetrics> = {}): ClusterRoundOutcome => ({
    metrics: { ...base, ...extra, status: 'failed', reason, durationMs: Date.now() - startedAt },
    result: null,
    taskId: task.id,
  });
  ctx.setStage('training');
  const target = task.target ?? selected.length;
  const { failed, lost } = await followTask(ctx, link, task, target, signal);
  if (signal.aborted) return fail('the coordinator stopped or lost its lock');
  if (lost !== null) return fail(lost);

  const accumulator: UpdateAccumulator = ctx.strategy.beginTrain(round, model.weights, ctx.layout);
  const inSum = new Set<string>();
  for (const [processId, bytes] of await readPartials(link.redis, link.keys, task.id)) {
    try {
      const partial = decodePartial(bytes);
      checkPartialClients(partial.clients, partial.count, processId, task);
      accumulator.mergePartial!(partial);
      for (const id of partial.clients) inSum.add(id);
    } catch (error) {
      // Left out alone: the other processes' partials still make the round.
      const message = `its process's stored partial sum was refused: ${(error as Error).message}`;
      logger.warn({ round, processId, err: (error as Error).message }, 'cluster: refused a stored partial sum');
      for (const [clientId, holder] of Object.entries(task.assignments)) if (holder === processId) failed.set(clientId, { clientId, code: 'state-corrupt', message });
    }
  }
  const failures: Failure[] = [];
  for (const clientId of selected) {
    if (inSum.has(clientId)) continue;
    failures.push(failed.get(clientId) ?? { clientId, code: 'deadline-exceeded', message: `no stored reply within the ${options.roundDeadlineMs} ms deadline (or after the round closed on its first ${target})` });
  }
  const folded = accumulator.count;
  for (const f of failures) logger.warn({ round, clientId: f.clientId, code: f.code }, f.message);
  const metrics: RoundMetrics = { ...base, replied: folded, failed: failures, trainPhaseMs: Date.now() - startedAt };
  const aggregated = aggregateFolded(ctx, round, accumulator, folded, failures);
  if ('reason' in aggregated) return fail(aggregated.reason, { ...metrics, aggregateMs: aggregated.aggregateMs ?? 0 });
  return { metrics: { ...metrics, aggregateMs: aggregated.aggregateMs, train: aggregated.result.metrics }, result: aggregated.result, taskId: task.id };
}

/** A partial may only name clients the task assigned to the process that stored it, each once. */
function checkPartialClients(clients: readonly string[], count: number, processId: string, task: ClusterTask): void {
  if (new Set(clients).size !== clients.length || clients.length !== count) {
    throw new FedkitError('state-corrupt', `it names ${clients.length} clients (${new Set(clients).size} distinct) for ${count} folded updates`);
  }
  const stranger = clients.find((id) => task.assignments[id] !== processId);
  if (stranger !== undefined) throw new FedkitError('state-corrupt', `it names client ${stranger}, which the task did not assign to process ${processId}`);
}
