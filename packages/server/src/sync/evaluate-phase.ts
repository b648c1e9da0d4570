/**
 * The evaluation phase after a completed synchronous round: federated evaluation on a
 * sample of idle clients (every `evaluate.every` rounds) and the server's central
 * evaluation, run side by side; the central result, when there is one, sets the round's
 * accuracy and loss.
 */
import { sampleWithoutReplacement } from '@fedkit/protocol';
import type { EvaluationMetrics, RoundMetrics } from '../metrics.js';
import { RoundPhase } from '../round-phase.js';
import { sendGlobalWeights } from './send-weights.js';
import type { SyncContext } from './sync-context.js';

/** Evaluates the new global model of `round` and writes the results into `metrics`. */
export async function evaluateRound(ctx: SyncContext, round: number, metrics: RoundMetrics, signal: AbortSignal): Promise<void> {
  const every = ctx.options.evaluate.every;
  const federated = every > 0 && round % every === 0;
  const central = ctx.centralEvaluate() !== undefined;
  if (!federated && !central) return;
  ctx.setStage('evaluating');
  const start = Date.now();
  const [fed, cen] = await Promise.all([
    federated ? federatedEvaluation(ctx, round, signal) : Promise.resolve(null),
    central ? runCentralEvaluation(ctx, round) : Promise.resolve(null),
  ]);
  metrics.evaluateMs = Date.now() - start;
  if (fed) metrics.federatedEvaluation = fed;
  if (cen) metrics.centralEvaluation = cen;
  const chosen = cen ?? fed;
  if (chosen) {
    metrics.accuracy = chosen.accuracy;
    metrics.loss = chosen.loss;
  }
}

/** The server's central evaluation of the current model; null when it skipped the round or failed (logged). */
export async function runCentralEvaluation(ctx: Pick<SyncContext, 'centralEvaluate' | 'model' | 'logger'>, round: number): Promise<EvaluationMetrics | null> {
  try {
    return await ctx.centralEvaluate()!(ctx.model.weights, round);
  } catch (error) {
    ctx.logger.error({ err: error, round }, 'central evaluation failed');
    return null;
  }
}

async function federatedEvaluation(ctx: SyncContext, round: number, signal: AbortSignal): Promise<EvaluationMetrics | null> {
  const { options, open, model } = ctx;
  const config = ctx.strategy.configureEvaluate(round, { batchSize: options.evaluate.batchSize });
  const eligible = ctx.registry.idle().filter((c) => c.numEvalExamples > 0);
  if (config === null || eligible.length === 0 || signal.aborted) return null;
  const count = Math.max(1, Math.ceil(options.evaluate.fraction * eligible.length));
  const selected = sampleWithoutReplacement(ctx.random, eligible, count);
  const tag = `e${round}`;
  for (const client of selected) client.busyWith = tag;
  open.evaluateReplies = [];
  const phase = new RoundPhase('evaluate', round, new Set(selected.map((c) => c.clientId)), options.evaluate.deadlineMs);
  open.evaluatePhase = phase;
  sendGlobalWeights(ctx, selected, phase, tag, (connection, transferId) =>
    connection.socket.emit('evaluate', { round, modelVersion: model.version, transferId, deadlineMs: phase.remainingMs(), config }),
  );
  await phase.done;
  open.evaluatePhase = null;
  for (const client of selected) if (client.busyWith === tag) client.busyWith = null;
  const summary = ctx.strategy.aggregateEvaluate(round, open.evaluateReplies, phase.failures);
  return summary === null ? null : { loss: summary.loss, accuracy: summary.accuracy, numExamples: summary.numExamples, numClients: summary.numClients };
}
