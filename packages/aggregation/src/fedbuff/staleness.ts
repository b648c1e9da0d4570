/**
 * Staleness weights for buffered asynchronous aggregation: an update trained on model
 * version b and arriving when the server is at version v has staleness τ = v − b, and
 * counts s(τ) ∈ (0, 1] times as much as a fresh one. The functions are those of FedAsync
 * (Xie, Koyejo and Gupta 2019, "Asynchronous Federated Optimization", arXiv:1903.03934);
 * FedBuff (Nguyen et al., AISTATS 2022, arXiv:2106.06639) uses the polynomial one with
 * a = 0.5, s(τ) = 1/√(1 + τ).
 */
import { NON_NEGATIVE_RANGE, POSITIVE_RANGE, requiredReal } from '../range-options.js';

/**
 * - `constant`: s(τ) = 1.
 * - `polynomial`: s(τ) = (1 + τ)^−a, a ≥ 0.
 * - `hinge`: s(τ) = 1 for τ ≤ b, else 1/(a·(τ − b) + 1), with a > 0 and b ≥ 0 (an integer
 *   number of versions).
 */
export type StalenessWeighting = { kind: 'constant' } | { kind: 'polynomial'; exponent: number } | { kind: 'hinge'; a: number; b: number };

/** FedBuff's choice, s(τ) = 1/√(1 + τ). */
export const DEFAULT_STALENESS: StalenessWeighting = Object.freeze({ kind: 'polynomial', exponent: 0.5 });

/** Validates `weighting` (naming the field under `name`) and returns s(τ). */
export function stalenessFunction(weighting: unknown, name = 'staleness'): (staleness: number) => number {
  if (typeof weighting !== 'object' || weighting === null) throw new TypeError(`${name} must be an object with a kind, got ${weighting === null ? 'null' : typeof weighting}`);
  const w = weighting as Record<string, unknown>;
  switch (w.kind) {
    case 'constant':
      return () => 1;
    case 'polynomial': {
      const a = requiredReal(w.exponent, `${name}.exponent`, NON_NEGATIVE_RANGE);
      return (tau) => (1 + tau) ** -a;
    }
    case 'hinge': {
      const a = requiredReal(w.a, `${name}.a`, POSITIVE_RANGE);
      const b = requiredReal(w.b, `${name}.b`, NON_NEGATIVE_RANGE);
      return (tau) => (tau <= b ? 1 : 1 / (a * (tau - b) + 1));
    }
    default:
      throw new TypeError(`${name}.kind must be 'constant', 'polynomial' or 'hinge', got ${JSON.stringify(w.kind)}`);
  }
}

