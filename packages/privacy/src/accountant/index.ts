/**
 * Privacy accounting for the Poisson-subsampled Gaussian mechanism with Rényi DP: the
 * per-step RDP, its (ε, δ) conversion, calibration of σ for a budget, and a stateful,
 * persistable accountant. Kept as its own entry point so a server can load accounting
 * without the clipping and noise code that runs on clients.
 */
export { DEFAULT_RDP_ORDERS, assertValidOrders } from './orders.js';
export { computeRdp, subsampledGaussianRdp, type SubsampledGaussianPhase } from './subsampled-gaussian.js';
export { computeEpsilon, epsilonFromRdp, type EpsilonResult } from './conversion.js';
export { noiseMultiplierForEpsilon, type NoiseMultiplierQuery } from './noise-multiplier.js';
export {
  RdpAccountant,
  type ChargeRecord,
  type PrivacyBudget,
  type RdpAccountantState,
} from './rdp-accountant.js';
