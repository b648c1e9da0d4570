/**
 * The client half of the DP modes, as mods (see mods.ts):
 *
 * - `clipMod`: clip the update to S (central DP: the server adds the noise);
 * - `localDpMod`: clip to S and add N(0, (z·S)²), so each report is private on its own;
 * - `distributedDpMod`: clip to S and add N(0, (z·S)²/m), so the sum of m reports carries
 *   N(0, (z·S)²) while secure aggregation keeps each report hidden.
 *
 * Each mod also reports `dpUnclipped` (1 when ‖Δ‖ ≤ S before clipping, else 0), which
 * adaptive clipping counts. A parameter left out of the options is read from the train
 * config the server sent (`clipNorm`, `noiseMultiplier`, `expectedClients`); that is how a
 * client follows an adaptive clip norm. A client that does not trust the server to choose
 * its noise pins `noiseMultiplier` (and `clipNorm`) in the options: given options win.
 */
import { FedkitError, type RandomSource } from '@fedkit/protocol';
import { clipL2 } from '../clip.js';
import { addGaussianNoise } from '../gaussian.js';
import { assertFloat32Array, assertNonNegativeFinite, assertPositiveFinite } from '../validate.js';
import { DP_CONFIG_KEYS, UNCLIPPED_METRIC } from './config-keys.js';
import { noisedUnclippedShare, wantsCountCoordinate } from './secure-count.js';
import type { TrainMod, TrainOutcome, TrainRequest } from './mods.js';
import { assertOptionsObject } from './options.js';
import { resolveRandom } from './random-guard.js';

export interface LocalDpModOptions {
  /** S; read from the train config's `clipNorm` when left out. */
  clipNorm?: number;
  /** z; read from the train config's `noiseMultiplier` when left out. */
  noiseMultiplier?: number;
  /** @default cryptoRandomSource() */
  random?: RandomSource;
}

export interface DistributedDpModOptions extends LocalDpModOptions {
  /** m, the expected number of clients per round; read from the train config when left out. */
  expectedClients?: number;
}

type Param = 'clipNorm' | 'noiseMultiplier' | 'expectedClients';

const CHECKS: Record<Param, (name: string, value: unknown) => void> = {
  clipNorm: assertPositiveFinite,
  noiseMultiplier: assertNonNegativeFinite,
  expectedClients: assertPositiveFinite,
};

/** The pinned value, or the one in the train config (checked: the server may be wrong). */
function param(pinned: number | undefined, name: Param, request: TrainRequest): number {
  if (pinned !== undefined) return pinned;
  const value = request.config?.[DP_CONFIG_KEYS[name]];
  if (value === undefined || value === null) {
    throw new FedkitError(
      'config-invalid',
      `round ${request.round}: the train config has no "${DP_CONFIG_KEYS[name]}" and the DP mod was not given ${name}`,
    );
  }
  try {
    CHECKS[name](`train config "${DP_CONFIG_KEYS[name]}"`, value);
  } catch (error) {
    throw new FedkitError('config-invalid', `round ${request.round}: ${(error as Error).message}`);
  }
  return value as number;
}

/** A non-negative number from the train config (checked: the server may be wrong). */
function configNumber(request: TrainRequest, key: string): number {
  const value = request.config[key];
  try {
    assertNonNegativeFinite(`train config "${key}"`, value);
  } catch (error) {
    throw new FedkitError('config-invalid', `round ${request.round}: ${(error as Error).message}`);
  }
  return value;
}

/** Clips `outcome.update` to S, adds N(0, stddev²) when stddev > 0, and reports the norm bit. */
function privatize(outcome: TrainOutcome, clipNorm: number, noise: { stddev: number; random: RandomSource } | null): TrainOutcome {
  if (typeof outcome !== 'object' || outcome === null) throw new TypeError('the training handler returned no outcome');
  assertFloat32Array('outcome.update', outcome.update);
  const { clipped, norm } = clipL2(outcome.update, clipNorm);
  const update = noise !== null && noise.stddev > 0 ? addGaussianNoise(clipped, noise.stddev, noise.random) : clipped;
  return { ...outcome, update, metrics: { ...outcome.metrics, [UNCLIPPED_METRIC]: norm <= clipNorm ? 1 : 0 } };
}

function checkPinned(options: Partial<Record<Param, unknown>>): void {
  for (const name of Object.keys(CHECKS) as Param[]) {
    if (options[name] !== undefined) CHECKS[name](name, options[name]);
  }
}

/**
 * Clips each update to L2 norm S before it leaves the client (central DP, where the server
 * adds the noise). The server clips again; clipping here as well means an update larger
 * than S never leaves the device.
 *
 * @param clipNorm S; read from the train config's `clipNorm` when left out.
 */
export function clipMod(clipNorm?: number): TrainMod {
  if (clipNorm !== undefined) assertPositiveFinite('clipNorm', clipNorm);
  return async (request, ctx, next) => {
    const s = param(clipNorm, 'clipNorm', request);
    return privatize(await next(request, ctx), s, null);
  };
}

/**
 * Local DP: clips to S and adds N(0, (z·S)²) on the device, so the server (and anyone who
 * sees the upload) learns only a private report. Costs √m times the noise of central DP on
 * the average of m clients.
 *
 * @example
 * const train = applyMods(trainLocally, [localDpMod({ clipNorm: 1, noiseMultiplier: 1.1 })]);
 */
export function localDpMod(options: LocalDpModOptions = {}): TrainMod {
  assertOptionsObject(options, ['clipNorm', 'noiseMultiplier', 'random'], 'localDpMod');
  checkPinned(options);
  const random = resolveRandom(options.random);
  return async (request, ctx, next) => {
    const s = param(options.clipNorm, 'clipNorm', request);
    const z = param(options.noiseMultiplier, 'noiseMultiplier', request);
    return privatize(await next(request, ctx), s, { stddev: z * s, random });
  };
}

/**
 * Distributed DP: clips to S and adds N(0, (z·S)²/m), i.e. stddev z·S/√m, so that the sum
 * of m clients' reports carries exactly the central-DP noise N(0, (z·S)²). Only private
 * under secure aggregation (one report alone carries 1/√m of the noise), and only when all
 * m report: with n < m the sum's noise multiplier is z·√(n/m).
 *
 * Under adaptive clipping the train config also carries σ_b (`clippedCountStddev`); the
 * mod then sets `noisedUnclipped` = b + N(0, σ_b²/m), the count coordinate the client
 * appends to its masked vector (secure-count.ts). σ_b is not pinnable: the masked vector's
 * length must match what the server expects.
 *
 * @example
 * // follows the server's clip norm, noise multiplier and m from the train config
 * const train = applyMods(trainLocally, [distributedDpMod()]);
 */
export function distributedDpMod(options: DistributedDpModOptions = {}): TrainMod {
  assertOptionsObject(options, ['clipNorm', 'noiseMultiplier', 'expectedClients', 'random'], 'distributedDpMod');
  checkPinned(options);
  const random = resolveRandom(options.random);
  return async (request, ctx, next) => {
    const s = param(options.clipNorm, 'clipNorm', request);
    const z = param(options.noiseMultiplier, 'noiseMultiplier', request);
    const m = param(options.expectedClients, 'expectedClients', request);
    const sigmaB = wantsCountCoordinate(request.config) ? configNumber(request, DP_CONFIG_KEYS.clippedCountStddev) : null;
    const outcome = privatize(await next(request, ctx), s, { stddev: (z * s) / Math.sqrt(m), random });
    if (sigmaB === null) return outcome;
    const unclipped = outcome.metrics[UNCLIPPED_METRIC] === 1;
    return { ...outcome, noisedUnclipped: noisedUnclippedShare({ unclipped, clippedCountStddev: sigmaB, expectedClients: m, random }) };
  };
}
