/**
 * What the server records about each round attempt, in one plain JSON-serializable shape:
 * kept in memory for `/api/status` and `/api/rounds`, emitted as a `round` event, and written
 * by the CLI as the run's metrics file.
 */
import type { ErrorCode } from '@fedkit/protocol';
import type { PrivacySnapshot } from './privacy-ledger.js';

export interface ClientFailure {
  clientId: string;
  code: ErrorCode;
  message: string;
}

export interface EvaluationMetrics {
  loss: number;
  accuracy: number;
  numExamples: number;
  numClients?: number;
}

export interface RoundMetrics {
  round: number;
  /** 1 for the first try at this round number, 2 after one failed attempt, ... */
  attempt: number;
  status: 'completed' | 'failed';
  /** Why a failed round failed. */
  reason?: string;
  modelVersion: number;
  selected: number;
  replied: number;
  failed: ClientFailure[];
  startedAt: string;
  /** From sampling to the new model (or to the failure), ms. */
  durationMs: number;
  /** From sending the model to the last reply or the deadline, ms. */
  trainPhaseMs: number;
  /** Time spent in aggregateTrain, ms. */
  aggregateMs: number;
  evaluateMs: number;
  /** Payload bytes received (chunk data) in this round. */
  bytesIn: number;
  /** Payload bytes sent (chunk data) in this round. */
  bytesOut: number;
  /** Example-weighted mean of the clients' training metrics. */
  train: Record<string, number>;
  /** Federated evaluation (clients' held-out data), when it ran this round. */
  federatedEvaluation?: EvaluationMetrics;
  /** Server-side evaluation on a central test set, when configured. */
  centralEvaluation?: EvaluationMetrics;
  /** Privacy spent after this round (ε at the budget's δ), when DP is on. */
  privacy?: PrivacySnapshot;
  /** In async mode (where `round` is the published model version): how that version was built. */
  async?: AsyncVersionMetrics;
  /** The accuracy and loss this round reports: central if available, else federated. */
  accuracy?: number;
  loss?: number;
}

/**
 * One published model version in async mode. Its RoundMetrics has `round` = `modelVersion`
 * = the version, `replied` = updates folded, `selected` = train tasks sent while it was built,
 * `durationMs` = time since the previous version was published.
 */
export interface AsyncVersionMetrics {
  /** Updates folded into this version (K, the buffer size). */
  updatesFolded: number;
  /** Mean and largest staleness τ = version built on − update's base version, over the folded updates. */
  stalenessMean: number;
  stalenessMax: number;
  /** Folded updates staler than maxStaleness (staleRefusal 'down-weight'). */
  downWeighted: number;
  /** Updates refused with `update-stale` while this version was built. */
  refusedStale: number;
  /** Train tasks sent while this version was built. */
  tasksSent: number;
}

export type ServerStage = 'starting' | 'waiting-for-clients' | 'paused' | 'training' | 'aggregating' | 'evaluating' | 'finished' | 'stopped';

/** What `GET /api/status` returns. */
export interface ServerStatus {
  protocolVersion: number;
  /** `'async'`: FedBuff, where `round`, `roundsCompleted` and `roundsPlanned` count published model versions. */
  mode: 'sync' | 'async';
  stage: ServerStage;
  /** An operator paused training: no new round starts (the one in progress finishes). */
  paused: boolean;
  /** An operator asked training to stop after the round in progress. */
  stopRequested: boolean;
  /** The round in progress (or the next one while waiting). */
  round: number;
  roundsCompleted: number;
  roundsPlanned: number;
  modelVersion: number;
  numParams: number;
  strategy: string;
  privacy: PrivacySnapshot;
  clients: {
    total: number;
    byPlatform: Record<string, number>;
    byBackend: Record<string, number>;
    list: { clientId: string; platform: string; backend: string; numExamples: number; busy: boolean }[];
  };
  lastRound: RoundMetrics | null;
  uptimeMs: number;
  /**
   * Cluster mode: which process answered, whether it coordinates now, and the whole
   * cluster's live processes and distinct clients as last counted (every heartbeat TTL, at
   * most once a second); `clients` above are this process's own. null with one process.
   */
  cluster: { processId: string; coordinator: boolean; processes: number; clientsTotal: number } | null;
}
