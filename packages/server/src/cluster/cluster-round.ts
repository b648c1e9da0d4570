/**
 * One attempt at a training round, as the coordinator runs it across the cluster: sample
 * from the union of live processes' clients, open a task (round-task.ts), follow the
 * processes' reports until every selected client has answered or failed (a process that
 * died fails its unreported clients), the first m replies are in, or the deadline passes;
 * then close the task, merge the stored partial sums into one accumulator of the strategy,
 * and let the strategy aggregate as in one process. The caller commits the result.
 */
import { sampleWithoutReplacement } from '@fedkit/protocol';
import type { AggregateResult, Failure, UpdateAccumulator } from '@fedkit/aggregation';
import type { RoundMetrics } from '../metrics.js';
import { emptyMetrics, trainConfigFor } from '../sync/train-phase.js';
import type { SyncContext } from '../sync/sync-context.js';
import type { ClusterLink } from './cluster-link.js';
import { clientUnion, liveMembers } from './membership.js';
import { followTask } from './follow-task.js';
import { dropTaskKeys, openTask, readPartials, type ClusterTask } from './round-task.js';

export interface ClusterRoundOutcome {
  metrics: RoundMetrics;
  /** The strategy's result when the round aggregated; the caller commits it. */
  result: AggregateResult | null;
}

/** Runs one attempt; never commits. `leader` aborts when this process loses the lock. */
export async function runClusterRound(ctx: SyncContext, link: ClusterLink, round: number, attempt: number, signal: AbortSignal): Promise<ClusterRoundOutcome> {
  const { options, model, logger } = ctx;
  const { redis, keys } = link;
  const startedAt = Date.now();
  const available = clientUnion(await liveMembers(redis, keys, logger));
  const wanted = Math.max(options.sampling.minFit, Math.ceil(options.sampling.fraction * available.length));
  const selected = sampleWithoutReplacement(ctx.random, available, Math.min(Math.ceil(wanted * options.sampling.overSelection), available.length));
  const config = ctx.strategy.configureTrain(round, trainConfigFor(options, ctx.privacy, round));
  const base = emptyMetrics(model.version, round, attempt, startedAt, selected.length);
  const fail = (reason: string, extra: Partial<RoundMetrics> = {}): ClusterRoundOutcome => ({
    metrics: { ...base, ...extra, status: 'failed', reason, durationMs: Date.now() - startedAt },
    result: null,
  });
  if (config === null) return fail('the strategy skipped training this round');

  ctx.setStage('training');
  const task: ClusterTask = {
    id: `r${round}a${attempt}`,
    round,
    attempt,
    modelVersion: model.version,
    config,
    deadlineAt: startedAt + options.roundDeadlineMs,
    assignments: Object.fromEntries(selected.map((s) => [s.client.clientId, s.processId])),
  };
  await openTask(redis, keys, task);
  const target = Math.min(wanted, selected.length);
  const { failed, lost } = await followTask(ctx, link, task, target, signal);
  if (signal.aborted) return fail('the coordinator stopped or lost its lock');
  if (lost !== null) return fail(lost);

  const partials = await readPartials(redis, keys, task.id);
  const accumulator: UpdateAccumulator = ctx.strategy.beginTrain(round, model.weights, ctx.layout);
  const inSum = new Set<string>();
  for (const partial of partials) {
    accumulator.mergePartial!(partial);
    for (const id of partial.clients) inSum.add(id);
  }
  const failures: Failure[] = [];
  for (const { client } of selected) {
    if (inSum.has(client.clientId)) continue;
    failures.push(failed.get(client.clientId) ?? { clientId: client.clientId, code: 'deadline-exceeded', message: `no stored reply within the ${options.roundDeadlineMs} ms deadline (or after the round closed on its first ${target})` });
  }
  await dropTaskKeys(redis, keys, task.id);
  const folded = accumulator.count;
  for (const f of failures) logger.warn({ round, clientId: f.clientId, code: f.code }, f.message);
  const metrics: RoundMetrics = { ...base, replied: folded, failed: failures, trainPhaseMs: Date.now() - startedAt };
  if (folded < options.sampling.minFit) return fail(`${folded} good replies, fewer than minFit ${options.sampling.minFit}`, metrics);
  ctx.setStage('aggregating');
  const aggregateStart = Date.now();
  const result = ctx.strategy.aggregateTrain(round, accumulator, failures);
  const aggregateMs = Date.now() - aggregateStart;
  if (result === null) return fail('the strategy could not aggregate', { ...metrics, aggregateMs });
  return { metrics: { ...metrics, aggregateMs, train: result.metrics }, result };
}
