/**
 * The stateful accountant a DP server keeps for a whole training run: it is charged once
 * per round (or per phase), answers "how much ε have we spent at this δ?", refuses to let
 * a round push the run over budget, and survives restarts through `toJSON`/`fromJSON`.
 *
 * The persisted state is the charge history, not the RDP vector: it is plain finite JSON
 * (an RDP of +∞ is not), it can be audited, and restoring recomputes the RDP so a file
 * edited by hand cannot claim less spending than its history implies.
 */
import { FedkitError } from '@fedkit/protocol';
import { epsilonFromRdp, type EpsilonResult } from './conversion.js';
import { assertValidOrders, DEFAULT_RDP_ORDERS } from './orders.js';
import { assertValidPhase, computeRdp, type SubsampledGaussianPhase } from './subsampled-gaussian.js';
import { assertNonNegativeFinite, assertInOpenRange } from '../validate.js';

/** Distinct (q, σ) pairs whose per-step RDP is kept (about 1.2 kB each with default orders). */
const MAX_CACHED_MECHANISMS = 256;

/** One recorded charge; consecutive charges with the same (q, σ) are merged. */
export interface ChargeRecord {
  samplingRate: number;
  noiseMultiplier: number;
  steps: number;
}

/** An (ε, δ) budget. */
export interface PrivacyBudget {
  /** ε ≥ 0. */
  epsilon: number;
  /** δ ∈ (0, 1). */
  delta: number;
}

/** What `toJSON` returns and `fromJSON` accepts. */
export interface RdpAccountantState {
  kind: 'rdp-accountant';
  version: 1;
  orders: number[];
  history: ChargeRecord[];
}

/**
 * Tracks the Rényi DP of a sequence of Poisson-subsampled Gaussian steps.
 *
 * @example
 * const accountant = new RdpAccountant();
 * const budget = { epsilon: 8, delta: 1e-5 };
 * const round = { samplingRate: 0.04, noiseMultiplier: 1.5 };
 * if (!accountant.wouldExceed(budget, round)) accountant.charge(round);
 * accountant.epsilon(1e-5); // { epsilon, order }
 */
export class RdpAccountant {
  readonly #orders: readonly number[];
  readonly #rdp: number[];
  readonly #history: ChargeRecord[] = [];
  /** Per-step RDP vectors by (q, σ), so repeated charges and replays cost nothing. */
  readonly #perStep = new Map<string, readonly number[]>();

  /** @param options.orders RDP orders to track. @default DEFAULT_RDP_ORDERS */
  constructor(options: { orders?: readonly number[] } = {}) {
    const orders = options.orders ?? DEFAULT_RDP_ORDERS;
    assertValidOrders(orders, 'orders');
    this.#orders = Object.freeze([...orders]);
    this.#rdp = this.#orders.map(() => 0);
  }

  get orders(): readonly number[] {
    return this.#orders;
  }

  /** Total RDP at each order (a copy). */
  get rdp(): number[] {
    return [...this.#rdp];
  }

  /** Charges so far (copies), consecutive equal (q, σ) merged. */
  get history(): ChargeRecord[] {
    return this.#history.map((record) => ({ ...record }));
  }

  /** Total steps charged. */
  get steps(): number {
    return this.#history.reduce((sum, record) => sum + record.steps, 0);
  }

  /** Records `steps` (default 1) steps of the mechanism. Returns `this`. */
  charge(charge: SubsampledGaussianPhase): this {
    assertValidPhase(charge, 'charge');
    const steps = charge.steps ?? 1;
    if (steps === 0) return this;
    const { samplingRate, noiseMultiplier } = charge;
    const step = this.#perStepRdp(samplingRate, noiseMultiplier);
    for (let k = 0; k < this.#rdp.length; k++) this.#rdp[k]! += steps * step[k]!;
    const last = this.#history[this.#history.length - 1];
    if (last && last.samplingRate === samplingRate && last.noiseMultiplier === noiseMultiplier) last.steps += steps;
    else this.#history.push({ samplingRate, noiseMultiplier, steps });
    return this;
  }

  /** The ε spent so far at `delta`, and the order that gave it. */
  epsilon(delta: number): EpsilonResult {
    return epsilonFromRdp({ orders: this.#orders, rdp: this.#rdp, delta });
  }

  /** Whether charging `next` would take the spent ε at `budget.delta` above `budget.epsilon`. */
  wouldExceed(budget: PrivacyBudget, next: SubsampledGaussianPhase): boolean {
    if (typeof budget !== 'object' || budget === null) throw new TypeError('budget must be an object');
    assertNonNegativeFinite('budget.epsilon', budget.epsilon);
    assertInOpenRange('budget.delta', budget.delta, 0, 1);
    assertValidPhase(next, 'next');
    const steps = next.steps ?? 1;
    const step = this.#perStepRdp(next.samplingRate, next.noiseMultiplier);
    const rdp = this.#rdp.map((r, k) => (steps === 0 ? r : r + steps * step[k]!));
    return epsilonFromRdp({ orders: this.#orders, rdp, delta: budget.delta }).epsilon > budget.epsilon;
  }

  toJSON(): RdpAccountantState {
    return { kind: 'rdp-accountant', version: 1, orders: [...this.#orders], history: this.history };
  }

  /**
   * Rebuilds an accountant from `toJSON()` output (already parsed from JSON), replaying its
   * history. Throws `FedkitError('config-invalid')` naming the first bad field. Replay costs
   * one RDP evaluation (a few ms with the default orders) per distinct (q, σ).
   */
  static fromJSON(state: unknown): RdpAccountant {
    try {
      if (typeof state !== 'object' || state === null) throw new TypeError('state must be an object');
      const { kind, version, orders, history } = state as Partial<Record<keyof RdpAccountantState, unknown>>;
      if (kind !== 'rdp-accountant') throw new TypeError(`state.kind must be 'rdp-accountant', got ${String(kind)}`);
      if (version !== 1) throw new RangeError(`state.version must be 1, got ${String(version)}`);
      assertValidOrders(orders, 'state.orders');
      if (!Array.isArray(history)) throw new TypeError('state.history must be an array');
      const accountant = new RdpAccountant({ orders });
      history.forEach((record: unknown, i) => {
        const name = `state.history[${i}]`;
        if (typeof record !== 'object' || record === null) throw new TypeError(`${name} must be an object`);
        const { samplingRate, noiseMultiplier, steps } = record as Partial<Record<keyof ChargeRecord, unknown>>;
        if (steps === undefined) throw new TypeError(`${name}.steps is missing`);
        const charge = { samplingRate, noiseMultiplier, steps } as SubsampledGaussianPhase;
        assertValidPhase(charge, name);
        accountant.charge(charge);
      });
      return accountant;
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) {
        throw new FedkitError('config-invalid', `invalid accountant state: ${error.message}`);
      }
      throw error;
    }
  }

  #perStepRdp(samplingRate: number, noiseMultiplier: number): readonly number[] {
    const key = `${samplingRate}/${noiseMultiplier}`;
    let step = this.#perStep.get(key);
    if (!step) {
      step = computeRdp({ samplingRate, noiseMultiplier, steps: 1, orders: this.#orders });
      // A run whose q changes every round would otherwise grow this without bound.
      if (this.#perStep.size >= MAX_CACHED_MECHANISMS) this.#perStep.clear();
      this.#perStep.set(key, step);
    }
    return step;
  }
}
