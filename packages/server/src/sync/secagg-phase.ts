/**
 * The secure-aggregation part of a synchronous training round: runs SecAgg+
 * (secagg-round.ts) over the sampled clients while they train, and hands the unmasked
 * weighted mean to the strategy.
 */
import { FedkitError } from '@fedkit/protocol';
import type { UpdateAccumulator } from '@fedkit/aggregation';
import type { SecAggResult } from '@fedkit/privacy/secagg';
import type { ClientInfo } from '../client-registry.js';
import type { RoundMetrics } from '../metrics.js';
import type { PrivacyLedger } from '../privacy-ledger.js';
import type { RoundPhase } from '../round-phase.js';
import { SecAggRound, secAggParamsFor } from '../secagg-round.js';
import { compareIds, type SyncContext } from './sync-context.js';

export interface SecAggOutcome {
  result: SecAggResult | null;
  /** Why the round could not aggregate; absent when it could. */
  error?: string;
  failures: RoundMetrics['failed'];
  clientIds: readonly string[];
}

/** Floats each client masks: the model's, plus the DP strategy's extra coordinates. */
export function secureVectorLength(numParams: number, privacy: PrivacyLedger): number {
  return numParams + privacy.secureSumExtraCoordinates;
}

/**
 * Runs SecAgg+ over the sampled clients while they train (each answers setup once its
 * update is ready). Never throws: an aborted round comes back as `error`.
 */
export async function runSecAgg(ctx: SyncContext, round: number, selected: readonly ClientInfo[], phase: RoundPhase, signal: AbortSignal): Promise<SecAggOutcome> {
  const clientIds = selected.map((c) => c.clientId).sort(compareIds);
  let params;
  try {
    params = secAggParamsFor(ctx.options.secureAggregation!, clientIds.length, secureVectorLength(ctx.numParams, ctx.privacy));
  } catch (error) {
    phase.close('round-closed', 'secure aggregation could not start');
    return { result: null, error: `secure aggregation cannot run with ${clientIds.length} clients: ${(error as Error).message}`, failures: [], clientIds };
  }
  const secAgg = new SecAggRound({
    round,
    clientIds,
    params,
    roundDeadlineMs: ctx.options.roundDeadlineMs,
    random: ctx.random,
    send: (clientId, message) => {
      const connection = ctx.connections.get(clientId);
      if (connection === undefined) return false;
      connection.socket.emit('secagg', message);
      return true;
    },
  });
  ctx.open.secAggRound = secAgg;
  // Clients that failed before the round started (gone before the train request).
  for (const f of phase.failures) secAgg.drop(f.clientId, f.code, f.message);
  try {
    const result = await secAgg.run(signal);
    ctx.logger.info({ round, contributors: result.contributors.length, dropped: result.dropped.length }, 'secure aggregation completed');
    return { result, failures: secAgg.failures.slice(), clientIds };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof FedkitError ? error.code : 'internal';
    if (code === 'internal') ctx.logger.error({ err: error, round }, 'secure aggregation failed');
    else ctx.logger.warn({ round, code }, `secure aggregation aborted: ${message}`);
    return { result: null, error: `secure aggregation aborted: ${message}`, failures: secAgg.failures.slice(), clientIds };
  } finally {
    ctx.open.secAggRound = null;
    phase.close('round-closed', 'the secure-aggregation round ended');
    for (const f of secAgg.failures) ctx.logger.warn({ round, clientId: f.clientId, code: f.code }, f.message);
  }
}

/**
 * Hands the unmasked weighted mean to the strategy: under distributed DP to the DP
 * strategy as a secure sum (equal weights; it splits off the clipped count under adaptive
 * clipping), otherwise as one synthetic reply weighted by the total weight (FedAvg then
 * gives exactly that mean). Returns the number of contributing clients.
 */
export function foldSecAgg(ctx: Pick<SyncContext, 'options' | 'privacy'>, accumulator: UpdateAccumulator, outcome: { result: SecAggResult | null }): number {
  const result = outcome.result;
  if (result === null) return 0;
  const contributors = result.contributors.length;
  if (ctx.options.privacy.mode === 'distributed') ctx.privacy.foldSecureSum(accumulator, { mean: result.weightedMean, contributors });
  else accumulator.add({ clientId: 'secagg-sum', numExamples: Math.max(1, Math.round(result.totalWeight)), update: result.weightedMean, metrics: {} });
  return contributors;
}
