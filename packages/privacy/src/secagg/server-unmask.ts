/**
 * The server's last step: rebuild the secrets the survivors revealed, strip every mask that
 * did not cancel, and decode the weighted mean. Kept apart from the stage bookkeeping in
 * `server-state.ts` because it is the only part that touches the long vectors.
 *
 * What is left in the masked sum Σ_{u∈U3} y_u after pairwise masks between survivors cancel:
 * each survivor's self mask +PRG(b_u), and for each survivor u and dropped partner v the
 * term sign(u, v)·PRG(s_uv). The server rebuilds b_u for survivors and the mask key of each
 * dropped v (checked against v's advertised public key), then subtracts both kinds.
 */
import { bytesEqual } from './bytes.js';
import { secAggError } from './errors.js';
import { pairwiseMaskSeed, x25519PublicKey } from './key-agreement.js';
import { applyMasks, pairwiseSign, reduceToModulus, type MaskTerm } from './masking.js';
import { decodeWeightedSum, type DecodedSum } from './quantize.js';
import { abort, type SecAggServerStage, type SecAggServerState } from './server-state.js';
import { combineShares } from './shamir.js';

/** The outcome of a completed round. */
export interface SecAggResult extends DecodedSum {
  readonly round: number;
  /** Clients whose update is in the mean. */
  readonly contributors: readonly number[];
  /** Sampled clients whose update is not (dropped at any stage, or refused). */
  readonly dropped: readonly number[];
}

/**
 * Unmask → done: reconstructs, unmasks and decodes. Aborts (`secagg-too-few-clients`) when a
 * needed secret has fewer than `threshold` shares; a share set that rebuilds a key not
 * matching its public key, or a sum out of range, also aborts the round with its own code.
 */
export async function serverFinish(state: SecAggServerState): Promise<SecAggResult> {
  if (state.stage !== 'unmask') throw secAggError('secagg-stage-invalid', `cannot finish while in stage '${state.stage}'`);
  const { threshold, modulusBits } = state.params;
  const sharesOf = (map: Map<number, Uint8Array[]>, owner: number, what: string): Uint8Array[] => {
    const shares = map.get(owner) ?? [];
    if (shares.length < threshold) abort(state, `${shares.length} ${what} shares of client ${owner} arrived, threshold is ${threshold}`);
    return shares;
  };
  const sum = state.maskedSum!;
  try {
    const terms: MaskTerm[] = [];
    for (const u of state.survivors) {
      terms.push({ seed: combineShares(sharesOf(state.selfMaskShares, u, 'self-mask'), threshold), sign: -1 });
    }
    const survivors = new Set(state.survivors);
    for (const v of state.dropped) {
      const secretKey = combineShares(sharesOf(state.maskKeyShares, v, 'mask-key'), threshold);
      const dropped = { id: v, publicKey: state.keys.get(v)!.maskPublicKey };
      if (!bytesEqual(x25519PublicKey(secretKey), dropped.publicKey)) {
        throw secAggError('secagg-share-invalid', `the shares of client ${v}'s mask key rebuild a key that does not match its public key`);
      }
      for (const u of state.routedTo.get(v) ?? []) {
        if (!survivors.has(u)) continue;
        const seed = pairwiseMaskSeed(secretKey, dropped, { id: u, publicKey: state.keys.get(u)!.maskPublicKey }, state.round);
        terms.push({ seed, sign: pairwiseSign(u, v) === 1 ? -1 : 1 });
      }
      secretKey.fill(0);
    }
    await applyMasks(sum, terms);
    reduceToModulus(sum, modulusBits);
    const decoded = decodeWeightedSum(sum, state.survivors.length, state.params);
    state.stage = 'done';
    state.maskedSum = undefined;
    const contributors = state.survivors;
    return { round: state.round, ...decoded, contributors, dropped: state.clientIds.filter((id) => !survivors.has(id)) };
  } catch (error) {
    // abort() may already have marked the round (the compiler cannot see that it mutates).
    if ((state.stage as SecAggServerStage) !== 'aborted') {
      state.stage = 'aborted';
      state.abortReason = (error as Error).message;
      state.maskedSum = undefined;
    }
    throw error;
  }
}
