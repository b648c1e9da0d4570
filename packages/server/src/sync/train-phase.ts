/**
 * The training phase of a synchronous round: sample max(minFit, ⌈C·available⌉) idle
 * clients (times the over-selection factor), send them the global weights and a train
 * config, wait until all have answered or failed or the deadline passes (replies are
 * folded as they arrive by client-handlers.ts, or here in client-id order), run SecAgg+
 * when configured, then aggregate and commit the new model.
 */
import { FedkitError, cryptoRandomSource, sampleWithoutReplacement, type RandomSource } from '@fedkit/protocol';
import type { AggregateResult, Failure, TrainConfig, UpdateAccumulator } from '@fedkit/aggregation';
import { createRoundKeyring, createSeenNonces } from '@fedkit/privacy';
import type { ResolvedServerOptions } from '../config.js';
import type { RoundMetrics } from '../metrics.js';
import type { PrivacyLedger } from '../privacy-ledger.js';
import { RoundPhase } from '../round-phase.js';
import { foldSecAgg, runSecAgg, type SecAggOutcome } from './secagg-phase.js';
import { sendGlobalWeights } from './send-weights.js';
import { compareIds, type SyncContext } from './sync-context.js';

/** The server's base train config for `round`: learning-rate decay, then the ledger's DP fields. */
export function trainConfigFor(options: ResolvedServerOptions, privacy: PrivacyLedger, round: number): TrainConfig {
  const t = options.train;
  return privacy.trainConfig({
    epochs: t.epochs,
    batchSize: t.batchSize,
    learningRate: t.learningRate * t.learningRateDecay ** (round - 1),
  });
}

/**
 * The round's cohort: m = max(minFit, ⌈C·n⌉) wanted of the n candidates, and, with
 * over-selection, ⌈m·overSelection⌉ sampled (at most n) so the round closes on the first m
 * replies.
 */
export function sampleCohort<T>(random: RandomSource, candidates: readonly T[], sampling: ResolvedServerOptions['sampling']): { wanted: number; selected: T[] } {
  const wanted = Math.max(sampling.minFit, Math.ceil(sampling.fraction * candidates.length));
  const selected = sampleWithoutReplacement(random, candidates, Math.min(Math.ceil(wanted * sampling.overSelection), candidates.length));
  return { wanted, selected };
}

/** One attempt at training `round`; 'failed' metrics leave the model unchanged. */
export async function trainRound(ctx: SyncContext, round: number, attempt: number, signal: AbortSignal): Promise<RoundMetrics> {
  const { options, open, model } = ctx;
  const startedAt = Date.now();
  const idle = ctx.registry.idle();
  if (options.foldOrder === 'client-id') idle.sort((a, b) => compareIds(a.clientId, b.clientId));
  const { wanted, selected } = sampleCohort(ctx.random, idle, options.sampling);
  const config = ctx.strategy.configureTrain(round, trainConfigFor(options, ctx.privacy, round));
  const base = emptyMetrics(model.version, round, attempt, startedAt, selected.length);
  if (config === null) return { ...base, status: 'failed', reason: 'the strategy skipped training this round' };

  ctx.setStage('training');
  open.bytesIn = 0;
  open.bytesOut = 0;
  const tag = `r${round}a${attempt}`;
  for (const client of selected) client.busyWith = tag;
  open.accumulator = ctx.strategy.beginTrain(round, model.weights, ctx.layout);
  const phase = new RoundPhase('train', round, new Set(selected.map((c) => c.clientId)), options.roundDeadlineMs, Math.min(wanted, selected.length));
  open.trainPhase = phase;
  open.lastTrainPhase = phase;
  const roundKeys = roundKeysFor(options, round);
  open.roundKeys = roundKeys;
  const sendStart = Date.now();
  open.bytesOut += sendGlobalWeights(ctx, selected, phase, tag, (connection, transferId) =>
    connection.socket.emit('train', {
      round,
      modelVersion: model.version,
      transferId,
      deadlineMs: phase.remainingMs(),
      config,
      ...(roundKeys === null ? {} : { roundPublicKey: roundKeys.keyring.publicKey }),
    }),
  );
  let secAggOutcome: SecAggOutcome | null = null;
  if (options.secureAggregation?.enabled === true) secAggOutcome = await runSecAgg(ctx, round, selected, phase, signal);
  else await phase.done;
  const trainPhaseMs = Date.now() - sendStart;
  open.trainPhase = null;
  roundKeys?.keyring.destroy();
  open.roundKeys = null;
  for (const client of selected) if (client.busyWith === tag) client.busyWith = null;
  // Under secure aggregation the phase only gates replies; runSecAgg logged the real failures.
  if (secAggOutcome === null) for (const f of phase.failures) ctx.logger.warn({ round, clientId: f.clientId, code: f.code }, f.message);

  const accumulator = open.accumulator;
  open.accumulator = null;
  const folded = secAggOutcome === null ? foldPending(ctx, accumulator, phase) : foldSecAgg(ctx, accumulator, secAggOutcome);
  const metrics: RoundMetrics = {
    ...base,
    replied: folded,
    failed: secAggOutcome === null ? phase.failures.slice() : secAggOutcome.failures,
    trainPhaseMs,
    bytesIn: open.bytesIn,
    bytesOut: open.bytesOut,
  };
  if (signal.aborted) return { ...metrics, status: 'failed', reason: 'the server is shutting down', durationMs: Date.now() - startedAt };
  if (secAggOutcome?.error !== undefined) {
    return { ...metrics, status: 'failed', reason: secAggOutcome.error, durationMs: Date.now() - startedAt };
  }
  const aggregated = aggregateFolded(ctx, round, accumulator, folded, phase.failures);
  if ('reason' in aggregated) return { ...metrics, ...aggregated, status: 'failed', durationMs: Date.now() - startedAt };
  const { result, aggregateMs } = aggregated;
  model.weights = result.weights;
  model.version++;
  ctx.privacy.charge();
  const completed: RoundMetrics = { ...metrics, modelVersion: model.version, aggregateMs, train: result.metrics, durationMs: Date.now() - startedAt };
  if (options.privacy.mode !== 'none') completed.privacy = ctx.privacy.snapshot();
  // Committed before anything can see the new model: see durable/durable-state.ts.
  ctx.durable?.commit({ round, modelVersion: model.version, weights: model.weights, history: [...ctx.history(), completed] });
  return completed;
}

/**
 * With foldOrder 'client-id', folds the buffered replies sorted by client id; a reply the
 * strategy refuses becomes a failure of that client. Returns the number of good replies.
 */
function foldPending(ctx: SyncContext, accumulator: UpdateAccumulator, phase: RoundPhase): number {
  const pending = ctx.open.pendingReplies;
  ctx.open.pendingReplies = [];
  if (ctx.options.foldOrder !== 'client-id') return phase.repliedCount;
  let folded = 0;
  pending.sort((a, b) => compareIds(a.clientId, b.clientId));
  for (const reply of pending) {
    try {
      accumulator.add(reply);
      folded++;
    } catch (error) {
      const wire = error instanceof FedkitError ? error : new FedkitError('invalid-message', (error as Error).message);
      phase.failures.push({ clientId: reply.clientId, code: wire.code, message: wire.message });
      ctx.rejected(reply.clientId, wire);
    }
  }
  return folded;
}

/**
 * The end every training round shares, in one process or across a cluster: fewer than
 * minFit good replies fail it; otherwise the strategy aggregates (timed). A failure comes
 * back as its reason (with aggregateMs when the strategy ran).
 */
export function aggregateFolded(
  ctx: Pick<SyncContext, 'options' | 'strategy' | 'setStage'>,
  round: number,
  accumulator: UpdateAccumulator,
  folded: number,
  failures: readonly Failure[],
): { result: AggregateResult; aggregateMs: number } | { reason: string; aggregateMs?: number } {
  const { minFit } = ctx.options.sampling;
  if (folded < minFit) return { reason: `${folded} good replies, fewer than minFit ${minFit}` };
  ctx.setStage('aggregating');
  const aggregateStart = Date.now();
  const result = ctx.strategy.aggregateTrain(round, accumulator, failures);
  const aggregateMs = Date.now() - aggregateStart;
  return result === null ? { reason: 'the strategy could not aggregate', aggregateMs } : { result, aggregateMs };
}

/** With encryptUpdates, a fresh key pair per round (a leaked round key exposes that round only); else null. */
export function roundKeysFor(options: Pick<ResolvedServerOptions, 'encryptUpdates'>, round: number): SyncContext['open']['roundKeys'] {
  return options.encryptUpdates ? { keyring: createRoundKeyring(round, cryptoRandomSource()), seenNonces: createSeenNonces(round) } : null;
}

export function emptyMetrics(modelVersion: number, round: number, attempt: number, startedAt: number, selected: number): RoundMetrics {
  return {
    round,
    attempt,
    status: 'completed',
    modelVersion,
    selected,
    replied: 0,
    failed: [],
    startedAt: new Date(startedAt).toISOString(),
    durationMs: 0,
    trainPhaseMs: 0,
    aggregateMs: 0,
    evaluateMs: 0,
    bytesIn: 0,
    bytesOut: 0,
    train: {},
  };
}
