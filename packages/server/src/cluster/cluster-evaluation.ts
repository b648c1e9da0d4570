/**
 * Federated evaluation across the cluster, after a completed round (every
 * `evaluate.every` rounds), as sync/evaluate-phase.ts does in one process: the coordinator
 * samples clients with held-out data from the union of live processes and opens an
 * evaluate task; each process asks its own sampled clients (cluster-worker.ts) and reports
 * their replies; the strategy's `aggregateEvaluate` combines them.
 */
import { sampleWithoutReplacement } from '@fedkit/protocol';
import type { Failure } from '@fedkit/aggregation';
import type { EvaluationMetrics } from '../metrics.js';
import type { SyncContext } from '../sync/sync-context.js';
import type { ClusterLink } from './cluster-link.js';
import { followTask } from './follow-task.js';
import { clientUnion, liveMembers } from './membership.js';
import { dropTaskKeys, newTaskId, openTask, type ClusterTask } from './round-task.js';

/** Evaluates the model of `round` (already published) on a sample of the cluster's clients; null when none could. */
export async function runClusterEvaluation(ctx: SyncContext, link: ClusterLink, round: number, signal: AbortSignal): Promise<EvaluationMetrics | null> {
  const { options, model } = ctx;
  const config = ctx.strategy.configureEvaluate(round, { batchSize: options.evaluate.batchSize });
  if (config === null || signal.aborted) return null;
  const eligible = clientUnion(await liveMembers(link.redis, link.keys, ctx.logger)).filter((e) => e.client.numEvalExamples > 0);
  if (eligible.length === 0) return null;
  const selected = sampleWithoutReplacement(ctx.random, eligible, Math.max(1, Math.ceil(options.evaluate.fraction * eligible.length)));
  const task: ClusterTask = {
    id: newTaskId(`e${round}v${model.version}`),
    kind: 'evaluate',
    round,
    attempt: 1,
    modelVersion: model.version,
    config,
    deadlineAt: Date.now() + options.evaluate.deadlineMs,
    assignments: Object.fromEntries(selected.map((s) => [s.client.clientId, s.processId])),
  };
  if (!(await openTask(link.redis, link.keys, task, link.processId))) return null;
  const { answered, failed, evaluations } = await followTask(ctx, link, task, selected.length, signal);
  await dropTaskKeys(link.redis, link.keys, task.id);
  const failures: Failure[] = selected
    .map((s) => s.client.clientId)
    .filter((id) => !answered.has(id))
    .map((id) => failed.get(id) ?? { clientId: id, code: 'deadline-exceeded', message: `no evaluation within the ${options.evaluate.deadlineMs} ms deadline` });
  const summary = ctx.strategy.aggregateEvaluate(round, evaluations, failures);
  return summary === null ? null : { loss: summary.loss, accuracy: summary.accuracy, numExamples: summary.numExamples, numClients: summary.numClients };
}
