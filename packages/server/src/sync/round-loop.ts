/**
 * The synchronous round loop: before each round, honour stop and pause, wait for enough
 * idle clients and check the privacy budget; then train (train-phase.ts), evaluate a
 * completed round (evaluate-phase.ts) and record it. A failed attempt leaves the model
 * unchanged and is retried with a fresh sample, up to `maxRoundAttempts`.
 */
import type { FinishedMessage } from '@fedkit/protocol';
import type { RoundMetrics } from '../metrics.js';
import type { TrainingControl } from '../training-control.js';
import { evaluateRound } from './evaluate-phase.js';
import type { SyncContext } from './sync-context.js';
import { trainRound } from './train-phase.js';

export type LoopFinish = { reason: FinishedMessage['reason']; message: string };

export interface RoundLoopHost extends SyncContext {
  /** The operator's pause / resume / stop, acted on at round boundaries. */
  readonly control: TrainingControl;
  /** The last round already completed (a resumed run), 0 for a fresh one. */
  readonly resumedRound: number;
  /** Why close() stopped the run (read once the signal has fired). */
  stopReason(): FinishedMessage['reason'];
  record(metrics: RoundMetrics): void;
}

/** Runs rounds until training completes or is stopped; says why it ended. */
export async function runRoundLoop(host: RoundLoopHost, signal: AbortSignal): Promise<LoopFinish> {
  const { options, control } = host;
  let round = host.resumedRound + 1;
  let attempt = 1;
  let finish: LoopFinish | null =
    round > options.rounds ? { reason: 'completed', message: `already completed ${round - 1} rounds (resumed from ${options.dataDir})` } : null;
  while (finish === null) {
    if (signal.aborted) {
      finish = { reason: host.stopReason(), message: 'training was stopped' };
      break;
    }
    if (control.stopRequested) {
      finish = { reason: 'stopped', message: `stopped by an operator before round ${round}` };
      break;
    }
    await control.whilePaused(signal, () => host.setStage('paused'));
    if (signal.aborted || control.stopRequested) continue;
    host.model.round = round;
    const ready = await waitForClients(host, AbortSignal.any([signal, control.stopSignal]));
    if (!ready || control.paused) continue;
    const refusal = host.privacy.refusal(host.registry.idle().length);
    if (refusal !== null) {
      finish = { reason: 'budget-exhausted', message: `stopped before round ${round}: ${refusal}` };
      break;
    }
    const metrics = await trainRound(host, round, attempt, signal);
    if (metrics.status === 'completed') {
      await evaluateRound(host, round, metrics, signal);
      host.record(metrics);
      const target = options.targetAccuracy;
      if (target !== undefined && metrics.accuracy !== undefined && metrics.accuracy >= target) {
        finish = { reason: 'completed', message: `reached target accuracy ${target} in round ${round}` };
      } else if (round >= options.rounds) {
        finish = { reason: 'completed', message: `completed ${round} rounds` };
      }
      round++;
      attempt = 1;
    } else {
      host.record(metrics);
      if (signal.aborted) continue;
      if (attempt >= options.maxRoundAttempts) {
        finish = { reason: 'stopped', message: `round ${round} failed ${attempt} times: ${metrics.reason}` };
      }
      attempt++;
    }
  }
  return finish;
}

/** Resolves true once enough idle clients are joined; false when stopped. */
async function waitForClients(host: SyncContext, signal: AbortSignal): Promise<boolean> {
  const needed = Math.max(host.options.minClients, host.options.sampling.minFit);
  while (!signal.aborted && (host.registry.size < host.options.minClients || host.registry.idle().length < needed)) {
    host.setStage('waiting-for-clients');
    await host.registry.changed(signal);
  }
  return !signal.aborted;
}
