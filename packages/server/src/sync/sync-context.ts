/**
 * What the synchronous round loop's modules share: `SyncContext`, the narrow view of the
 * server they run against (options, registry, strategy, connections, the global model),
 * and `OpenRound`, the mutable state of the round or evaluation now open, which the client
 * handlers (client-handlers.ts) fill as replies arrive.
 */
import type { EvaluateReply, TrainReply, UpdateAccumulator } from '@fedkit/aggregation';
import type { RoundKeyring, SeenNonces } from '@fedkit/privacy';
import type { ClientConnection } from '../connection.js';
import type { DurableState } from '../durable/durable-state.js';
import type { EvaluationMetrics, RoundMetrics, ServerStage } from '../metrics.js';
import type { RoundPhase } from '../round-phase.js';
import type { SecAggReplySink } from '../secagg-round.js';
import type { ServerParts } from '../server-parts.js';

/** The global model and where training stands; the server's status reads it. */
export interface GlobalModel {
  weights: Float32Array;
  version: number;
  /** The round being run (or, in async mode, the latest version). */
  round: number;
}

/** Server-side evaluation of the global model on a central test set; null = not evaluated this round. */
export type CentralEvaluate = (weights: Float32Array, round: number) => Promise<EvaluationMetrics | null>;

/** The open phases of the current round and what they have collected so far. */
export class OpenRound {
  trainPhase: RoundPhase | null = null;
  /** The latest training phase, kept after it closes to refuse its late replies by name. */
  lastTrainPhase: RoundPhase | null = null;
  /** With encryptUpdates: the open round's keys and nonces. */
  roundKeys: { keyring: RoundKeyring; seenNonces: SeenNonces } | null = null;
  accumulator: UpdateAccumulator | null = null;
  /** Validated replies held until the round closes (foldOrder 'client-id' only). */
  pendingReplies: TrainReply[] = [];
  /** With secureAggregation: the open round's SecAgg+ driver (cluster mode: this process's relay to it). */
  secAggRound: SecAggReplySink | null = null;
  evaluatePhase: RoundPhase | null = null;
  evaluateReplies: EvaluateReply[] = [];
  bytesIn = 0;
  bytesOut = 0;
}

export interface SyncContext extends ServerParts {
  readonly numParams: number;
  readonly connections: ReadonlyMap<string, ClientConnection>;
  readonly model: GlobalModel;
  readonly open: OpenRound;
  /** With dataDir: the snapshot committed after each round. */
  readonly durable: DurableState | null;
  /** The rounds recorded so far (completed and failed attempts). */
  history(): readonly RoundMetrics[];
  centralEvaluate(): CentralEvaluate | undefined;
  setStage(stage: ServerStage): void;
  /** Reports a refused reply (the server's 'rejected' event); null when no client can be named. */
  rejected(clientId: string | null, error: unknown): void;
}

/** Plain code-unit order: the same on every machine, unlike localeCompare. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
