/**
 * The privacy a simulation reports per round and in its summary, read from the server's
 * ledger (`RoundMetrics.privacy`): ε spent so far at δ, as the server's RDP accountant
 * charged it. Local DP reports no ε: the server charges nothing there (each report is
 * noised on its device, so the guarantee is per client report, not an accountant total),
 * and printing the ledger's 0 would read as "no privacy loss".
 */
import type { RoundMetrics } from '@fedkit/server';

export interface ReportedPrivacy {
  mode: string;
  /** ε spent after the round at `delta`; null under local DP (see above). */
  epsilon: number | null;
  delta: number;
  /** Rounds the accountant has charged. */
  roundsCharged: number;
  /** The clip norm S of the last charged round (it moves under adaptive clipping). */
  clipNorm: number | null;
}

/** The privacy after a round, or null when the round ran without DP. */
export function reportedPrivacy(round: RoundMetrics | undefined): ReportedPrivacy | null {
  const p = round?.privacy;
  if (p === undefined || p.mode === 'none') return null;
  return {
    mode: p.mode,
    epsilon: p.mode === 'local' ? null : p.epsilon,
    delta: p.delta,
    roundsCharged: p.roundsCharged,
    clipNorm: p.lastRound?.clipNorm ?? null,
  };
}
