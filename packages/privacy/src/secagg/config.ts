/**
 * Checks a set of secure-aggregation parameters once, for the server that chooses them and
 * for every client that receives them (a client must not join a round whose threshold would
 * let the server rebuild both of its secrets).
 *
 * Threshold rule: each client's secrets are shared among its holders (its neighbours and
 * itself, degree + 1 of them) and t of those rebuild one. Requiring 2t > degree + 1 means
 * two disjoint sets of t holders cannot exist, so even a server that tells different holders
 * different stories cannot collect t self-mask shares and t mask-key shares of one client
 * from honest holders (Bonawitz et al. 2017 §4 argue the same bound).
 */
import { secAggError } from './errors.js';
import { neighbourGraphDegree } from './graph.js';
import type { SecAggParams } from './messages.js';
import { DEFAULT_QUANTIZATION, validateQuantization, type QuantizationParams } from './quantize.js';

/** Largest update (floats) a round accepts: keeps the masked vector under 1 GiB. */
export const MAX_VECTOR_LENGTH = 2 ** 28 - 1;

/** The server's choices for one round; quantization fields default to Flower's. */
export interface SecAggOptions extends Partial<QuantizationParams> {
  /** Shares needed to rebuild a secret (a majority of the degree + 1 holders). */
  readonly threshold: number;
  /** SecAgg+'s k. @default clientIds.length − 1 (plain SecAgg, the full graph) */
  readonly neighbourCount?: number;
  /** Floats in each client's update. */
  readonly vectorLength: number;
}

/** Fills in defaults and validates. Throws `FedkitError('config-invalid')`. */
export function resolveSecAggParams(options: SecAggOptions, clientCount: number): SecAggParams {
  const params: SecAggParams = {
    ...DEFAULT_QUANTIZATION,
    clippingRange: options.clippingRange ?? DEFAULT_QUANTIZATION.clippingRange,
    quantizationRange: options.quantizationRange ?? DEFAULT_QUANTIZATION.quantizationRange,
    modulusBits: options.modulusBits ?? DEFAULT_QUANTIZATION.modulusBits,
    maxWeight: options.maxWeight ?? DEFAULT_QUANTIZATION.maxWeight,
    threshold: options.threshold,
    neighbourCount: options.neighbourCount ?? Math.max(1, clientCount - 1),
    vectorLength: options.vectorLength,
  };
  validateSecAggParams(params, clientCount);
  return params;
}

/** Throws `FedkitError('config-invalid')` naming the first bad field for `clientCount` clients. */
export function validateSecAggParams(params: SecAggParams, clientCount: number): void {
  const bad = (message: string): never => {
    throw secAggError('config-invalid', message);
  };
  if (!(Number.isInteger(clientCount) && clientCount >= 2)) bad(`secure aggregation needs at least 2 clients, got ${clientCount}`);
  validateQuantization(params, clientCount);
  const { threshold, neighbourCount, vectorLength } = params;
  if (!(Number.isInteger(vectorLength) && vectorLength >= 1 && vectorLength <= MAX_VECTOR_LENGTH)) {
    bad(`vectorLength must be an integer in [1, ${MAX_VECTOR_LENGTH}], got ${vectorLength}`);
  }
  if (!(Number.isInteger(neighbourCount) && neighbourCount >= 1)) bad(`neighbourCount must be a positive integer, got ${neighbourCount}`);
  const holders = neighbourGraphDegree(clientCount, neighbourCount) + 1;
  if (!(Number.isInteger(threshold) && 2 * threshold > holders && threshold <= holders)) {
    bad(`threshold must be an integer in (${holders / 2}, ${holders}] (a majority of the ${holders} share holders per client), got ${threshold}`);
  }
}
