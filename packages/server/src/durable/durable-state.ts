/**
 * What a server persists after each completed round, and how it comes back after a crash:
 * the global model, the round and model version, the strategy's state (optimizer moments,
 * an adaptive clip), the privacy accountant and the client registry, as one snapshot of
 * the StateStore.
 *
 * When to persist, and the privacy budget. The server charges the accountant when it
 * aggregates a round and commits the snapshot in the same synchronous step, before the new
 * model can be seen by anyone (the next train or evaluate request, /api/model): no event
 * loop turn separates `global = new`, `charge()` and the durable commit. So:
 * - a kill before the commit loses the round *and its charge together*; the noised model was
 *   never released, so not counting it is exact, and the restarted server re-runs the round;
 * - a kill after the commit resumes from it: the charge is on disk with the model it paid for,
 *   and no round is ever charged twice.
 * If the commit itself fails (disk full, permissions) the server stops with an error rather
 * than release a model whose charge is not durable.
 */
import { FedkitError, assertSameLayout, decodeFloat32, encodeFloat32, layoutSize, type WeightsLayout } from '@fedkit/protocol';
import type { Strategy } from '@fedkit/aggregation';
import type { RoundMetrics } from '../metrics.js';
import type { PrivacyLedger } from '../privacy-ledger.js';
import type { KnownClients } from './known-clients.js';
import { StateStore, sha256Hex } from './state-store.js';

export interface DurableParts {
  layout: WeightsLayout;
  strategy: Strategy;
  privacy: PrivacyLedger;
  knownClients: KnownClients;
}

/** Where a resumed server carries on from. */
export interface ResumedState {
  /** The last completed round: the server continues with round + 1. */
  round: number;
  modelVersion: number;
  weights: Float32Array;
  history: RoundMetrics[];
  /** SHA-256 (hex) of the restored model bytes, for logs and operators. */
  modelSha256: string;
}

export interface CommitInput {
  round: number;
  modelVersion: number;
  weights: Float32Array;
  history: readonly RoundMetrics[];
}

interface PersistedState {
  kind: 'fedkit-server-state';
  round: number;
  modelVersion: number;
  layout: WeightsLayout;
  strategy: { name: string; state: unknown };
  privacy: unknown;
  clients: unknown;
  history: RoundMetrics[];
}

export class DurableState {
  readonly store: StateStore;

  constructor(
    readonly dir: string,
    private readonly parts: DurableParts,
  ) {
    this.store = new StateStore(dir);
  }

  /** Restores the committed snapshot into the parts; null for a fresh data dir. */
  restore(): ResumedState | null {
    const snapshot = this.store.load();
    if (snapshot === null) return null;
    const s = snapshot.state as Partial<PersistedState> | null;
    if (typeof s !== 'object' || s === null || s.kind !== 'fedkit-server-state' || s.round !== snapshot.round) {
      throw new FedkitError('state-corrupt', `data dir ${this.dir}: the state file does not describe round ${snapshot.round}`);
    }
    if (!Number.isSafeInteger(s.modelVersion) || !Array.isArray(s.layout) || !Array.isArray(s.history) || typeof s.strategy?.name !== 'string') {
      throw new FedkitError('state-corrupt', `data dir ${this.dir}: the state file lacks modelVersion, layout, strategy or history`);
    }
    try {
      assertSameLayout(this.parts.layout, s.layout, 'persisted model');
    } catch (error) {
      throw new FedkitError('state-mismatch', `data dir ${this.dir} holds a different model: ${(error as Error).message}`);
    }
    if (snapshot.model.byteLength !== layoutSize(this.parts.layout) * 4) {
      throw new FedkitError('state-corrupt', `data dir ${this.dir}: the model file has ${snapshot.model.byteLength} bytes, the layout needs ${layoutSize(this.parts.layout) * 4}`);
    }
    const { strategy, privacy, knownClients } = this.parts;
    if (s.strategy.name !== strategy.name) {
      throw new FedkitError('state-mismatch', `data dir ${this.dir} was written by strategy "${s.strategy.name}", this server runs "${strategy.name}"`);
    }
    const weights = decodeFloat32(snapshot.model, this.parts.layout, 'persisted model');
    if (s.strategy.state !== null && s.strategy.state !== undefined) {
      if (strategy.importState === undefined) throw new FedkitError('state-mismatch', `data dir ${this.dir} holds state for ${s.strategy.name}, which this server cannot restore`);
      try {
        strategy.importState(s.strategy.state);
      } catch (error) {
        throw new FedkitError('state-corrupt', `data dir ${this.dir}: ${(error as Error).message}`);
      }
    }
    privacy.importState(s.privacy);
    knownClients.restore(s.clients);
    return { round: snapshot.round, modelVersion: s.modelVersion!, weights, history: s.history, modelSha256: sha256Hex(snapshot.model) };
  }

  /** Commits a completed round durably (synchronous: see the module comment). */
  commit(input: CommitInput): void {
    const { strategy, privacy, knownClients } = this.parts;
    const state: PersistedState = {
      kind: 'fedkit-server-state',
      round: input.round,
      modelVersion: input.modelVersion,
      layout: this.parts.layout,
      strategy: { name: strategy.name, state: strategy.exportState?.() ?? null },
      privacy: privacy.exportState(),
      clients: knownClients.toJSON(),
      history: [...input.history],
    };
    this.store.save({ round: input.round, model: encodeFloat32(input.weights), state });
  }
}
