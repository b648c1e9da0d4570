/**
 * Differential privacy in the round loop: wraps the strategy for the configured DP mode,
 * keeps the RDP accountant, refuses a round that would exceed the (ε, δ) budget, charges the
 * accountant once per released model, and reports ε spent. The maths lives in
 * `@fedkit/privacy`; this module only decides when to call it.
 *
 * Modes: 'central' (clients send raw updates, the server clips and noises the sum; fixed or
 * adaptive clipping), 'local' (clients clip and noise their own update: the train config
 * carries clipNorm and noiseMultiplier; the server averages as usual and charges nothing,
 * since each report is private on its own), 'distributed' (under secure aggregation: each
 * client clips and adds N(0, (z·S)²/m), the server only ever sees the masked sum).
 */
import { FedkitError, type RandomSource } from '@fedkit/protocol';
import type { Strategy, TrainConfig } from '@fedkit/aggregation';
import {
  DP_CONFIG_KEYS,
  RdpAccountant,
  assertProductionRandom,
  withAdaptiveClipping,
  withCentralDp,
  withDistributedDp,
  type DpConfig,
  type DpRoundFacts,
  type DpStrategy,
  type RdpAccountantState,
} from '@fedkit/privacy';

export interface PrivacySnapshot {
  mode: DpConfig['mode'];
  /** ε spent so far at the budget's δ (or δ = 1e-5 without a budget); 0 before any charge. */
  epsilon: number;
  delta: number;
  /** The RDP order that gave ε. */
  order: number | null;
  budget: { epsilon: number; delta: number } | null;
  /** Rounds charged to the accountant. */
  roundsCharged: number;
  /** The last charged round's facts. */
  lastRound: { noiseMultiplier: number; samplingRate: number; clipNorm: number } | null;
}

/** What `exportState` returns and `importState` accepts. */
export interface PrivacyLedgerState {
  kind: 'privacy-ledger';
  version: 1;
  mode: DpConfig['mode'];
  accountant: RdpAccountantState;
  charged: number;
  last: PrivacySnapshot['lastRound'];
}

const DEFAULT_REPORT_DELTA = 1e-5;

export class PrivacyLedger {
  readonly strategy: Strategy;
  private readonly dpStrategy: DpStrategy | null;
  private accountant = new RdpAccountant();
  private planned: DpRoundFacts | null = null;
  private charged = 0;
  private last: PrivacySnapshot['lastRound'] = null;

  constructor(
    readonly config: DpConfig,
    inner: Strategy,
    random: RandomSource,
    options: { allowSeededRandom: boolean },
  ) {
    if (config.mode !== 'none' && !options.allowSeededRandom) assertProductionRandom(random, 'the server random source');
    if (config.mode === 'central') {
      this.dpStrategy =
        config.adaptiveClipping === null
          ? withCentralDp(inner, { clipNorm: config.clipNorm!, noiseMultiplier: config.noiseMultiplier, expectedClients: config.expectedClients!, random })
          : withAdaptiveClipping(inner, {
              mode: 'central',
              noiseMultiplier: config.noiseMultiplier,
              expectedClients: config.expectedClients!,
              initialClipNorm: config.adaptiveClipping.initialClipNorm,
              targetQuantile: config.adaptiveClipping.targetQuantile,
              clipLearningRate: config.adaptiveClipping.clipLearningRate,
              ...(config.adaptiveClipping.clippedCountStddev === null ? {} : { clippedCountStddev: config.adaptiveClipping.clippedCountStddev }),
              random,
            });
      this.strategy = this.dpStrategy;
    } else if (config.mode === 'distributed') {
      // Clients clip and add their share of the noise (the train config tells them S, z and
      // m); secure aggregation hands the server only the sum. Config validation has checked
      // that secure aggregation is on and that clipping is fixed.
      this.dpStrategy = withDistributedDp(inner, { clipNorm: config.clipNorm!, noiseMultiplier: config.noiseMultiplier, expectedClients: config.expectedClients!, random });
      this.strategy = this.dpStrategy;
    } else {
      this.dpStrategy = null;
      this.strategy = inner;
    }
  }

  /** Adds what clients must do for local DP to the train config. */
  trainConfig(base: TrainConfig): TrainConfig {
    if (this.config.mode !== 'local') return base;
    return {
      ...base,
      [DP_CONFIG_KEYS.mode]: 'local',
      [DP_CONFIG_KEYS.clipNorm]: this.config.clipNorm,
      [DP_CONFIG_KEYS.noiseMultiplier]: this.config.noiseMultiplier,
    };
  }

  /**
   * Plans the next round with `availableClients` to sample from. Returns why the round may
   * not run (the budget would be exceeded), or null when it may.
   */
  refusal(availableClients: number): string | null {
    this.planned = this.dpStrategy === null ? null : this.dpStrategy.privacyFacts({ availableClients });
    const budget = this.config.budget;
    if (budget === null || this.planned === null) return null;
    const next = { samplingRate: this.planned.samplingRate, noiseMultiplier: this.planned.noiseMultiplier };
    if (!this.accountant.wouldExceed(budget, next)) return null;
    const spent = this.accountant.epsilon(budget.delta).epsilon;
    return `the next round would exceed the privacy budget ε = ${budget.epsilon} at δ = ${budget.delta} (spent ${spent.toFixed(4)} so far)`;
  }

  /** Charges the accountant for a released model. Call once per completed round. */
  charge(): void {
    if (this.dpStrategy === null || this.planned === null) return;
    const released = this.dpStrategy.lastRound;
    const noiseMultiplier = released?.noiseMultiplier ?? this.planned.noiseMultiplier;
    this.accountant.charge({ samplingRate: this.planned.samplingRate, noiseMultiplier });
    this.charged++;
    this.last = { noiseMultiplier, samplingRate: this.planned.samplingRate, clipNorm: released?.clipNorm ?? this.planned.clipNorm };
  }

  /** The accountant's charges, for the data dir (persisted with the round that caused them). */
  exportState(): PrivacyLedgerState {
    return { kind: 'privacy-ledger', version: 1, mode: this.config.mode, accountant: this.accountant.toJSON(), charged: this.charged, last: this.last };
  }

  /** Restores `exportState()` output; throws `state-mismatch` / `state-corrupt`, never half-restores. */
  importState(state: unknown): void {
    const s = state as Partial<PrivacyLedgerState> | null;
    if (typeof s !== 'object' || s === null || s.kind !== 'privacy-ledger' || s.version !== 1) {
      throw new FedkitError('state-corrupt', 'the persisted privacy ledger is not a version-1 privacy-ledger object');
    }
    if (s.mode !== this.config.mode) {
      throw new FedkitError('state-mismatch', `the data dir was written with privacy mode "${String(s.mode)}", this server runs "${this.config.mode}"`);
    }
    if (!Number.isSafeInteger(s.charged) || s.charged! < 0) throw new FedkitError('state-corrupt', `the persisted privacy ledger has an invalid charge count ${String(s.charged)}`);
    let accountant: RdpAccountant;
    try {
      accountant = RdpAccountant.fromJSON(s.accountant);
    } catch (error) {
      throw new FedkitError('state-corrupt', `the persisted accountant is invalid: ${(error as Error).message}`);
    }
    this.accountant = accountant;
    this.charged = s.charged!;
    this.last = s.last ?? null;
  }

  snapshot(): PrivacySnapshot {
    const delta = this.config.budget?.delta ?? DEFAULT_REPORT_DELTA;
    const spent = this.charged === 0 ? { epsilon: 0, order: null } : this.accountant.epsilon(delta);
    return {
      mode: this.config.mode,
      epsilon: spent.epsilon,
      delta,
      order: Number.isFinite(spent.order) ? spent.order : null,
      budget: this.config.budget,
      roundsCharged: this.charged,
      lastRound: this.last,
    };
  }
}
