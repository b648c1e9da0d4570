/**
 * The running state of one DP round: an equally weighted sum of clipped updates, the count
 * of clients whose update was within the clip norm, and the clients' metrics.
 *
 * Equal weights, not FedAvg's n_k/Σn: with example weights one client's share of the
 * average is n_k/Σn, which a client with many examples (or one that claims many) pushes
 * towards 1, so one client can move the average by up to S rather than S/m, and the weights
 * themselves depend on private data. DP-FedAvg (McMahan et al. 2018) bounds each weight and
 * divides by a fixed denominator; we use its uniform case (every weight 1), so adding or
 * removing one client moves the sum by at most S whatever its example count. Example
 * counts still weight the metrics, which are outside the DP guarantee.
 */
import { WeightedMetrics, type AccumulatorPartial, type TrainReply, type UpdateAccumulator } from '@fedkit/aggregation';
import { FedkitError, type WeightsLayout } from '@fedkit/protocol';
import { clipL2 } from '../clip.js';
import { UNCLIPPED_METRIC } from './config-keys.js';
import { splitCountCoordinate } from './secure-count.js';

/**
 * `'server'`: the server sees each update and clips it (central DP). `'client'`: clients
 * clipped and noised already (distributed DP), so the server only sums.
 */
export type ClipSite = 'server' | 'client';

export interface DpRoundSetup {
  /** Identifies the strategy object that began the round. */
  owner: object;
  round: number;
  global: Float32Array;
  layout: WeightsLayout;
  clipNorm: number;
  clipSite: ClipSite;
  /** Whether each reply must carry the `dpUnclipped` bit (client-side adaptive clipping). */
  needsClientBits: boolean;
}

export class DpAccumulator implements UpdateAccumulator {
  count = 0;
  /** Σ n_k over folded replies (reported, not used as weights). */
  numExamples = 0;
  /**
   * Replies whose update norm was ≤ S; after `addSecureSum` under adaptive clipping, the
   * clients' noised count Σ (b_k + N(0, σ_b²/m)), already carrying its noise.
   */
  unclippedCount = 0;
  /** Whether the round's sum came from secure aggregation (`addSecureSum`) rather than replies. */
  secureSum = false;
  readonly metrics = new WeightedMetrics();
  #sum: Float64Array | null;

  constructor(readonly setup: Readonly<DpRoundSetup>) {
    this.#sum = new Float64Array(setup.global.length);
  }

  /** Every reply weighs 1 (see the module comment), so the total weight is the count. */
  get totalWeight(): number {
    return this.count;
  }

  get closed(): boolean {
    return this.#sum === null;
  }

  add(reply: TrainReply): void {
    const sum = this.#sum;
    if (sum === null) throw new FedkitError('round-closed', `round ${this.setup.round} was already aggregated`);
    if (this.secureSum) throw new RangeError(`round ${this.setup.round} already holds a secure sum: individual replies cannot join it`);
    if (typeof reply !== 'object' || reply === null) throw new TypeError('reply must be an object');
    const id = reply.clientId;
    // Check everything before folding anything, so a rejected reply leaves no trace.
    const n = reply.numExamples;
    if (typeof n !== 'number') throw new TypeError(`client "${id}" numExamples must be a number, got ${typeof n}`);
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`client "${id}" numExamples must be a non-negative integer, got ${n}`);
    if (!(reply.update instanceof Float32Array)) throw new TypeError(`update from client "${id}" must be a Float32Array`);
    if (typeof reply.metrics !== 'object' || reply.metrics === null) throw new TypeError(`metrics from client "${id}" must be an object`);
    if (reply.update.length !== sum.length) {
      throw new FedkitError('update-size-mismatch', `update from client "${id}" has ${reply.update.length} floats, the model has ${sum.length}`);
    }
    const { clipNorm } = this.setup;
    let contribution: Float32Array;
    let unclipped: number;
    if (this.setup.clipSite === 'server') {
      const { clipped, norm } = clipL2(reply.update, clipNorm);
      contribution = clipped;
      unclipped = norm <= clipNorm ? 1 : 0;
    } else {
      assertFinite(reply.update, id);
      contribution = reply.update;
      unclipped = this.setup.needsClientBits ? clientBit(reply) : 0;
    }
    for (let i = 0; i < sum.length; i++) sum[i]! += contribution[i]!;
    const { [UNCLIPPED_METRIC]: _bit, ...metrics } = reply.metrics;
    // The exact bit fraction is not private: only its noised version leaves the strategy.
    this.metrics.add(metrics, n);
    this.unclippedCount += unclipped;
    this.numExamples += n;
    this.count++;
  }

  /**
   * Folds the unmasked result of secure aggregation (distributed DP): `mean` is the mean of
   * `contributors` equally weighted vectors, each a clipped, noised update followed, under
   * adaptive clipping, by the client's noised clip indicator (secure-count.ts). One per
   * round, and not mixed with individual replies.
   */
  addSecureSum(input: { mean: Float32Array; contributors: number }): void {
    const sum = this.#sum;
    if (sum === null) throw new FedkitError('round-closed', `round ${this.setup.round} was already aggregated`);
    if (this.setup.clipSite !== 'client') throw new TypeError('a secure sum needs clients that clip (distributed DP); the server cannot clip a sum');
    if (this.count > 0) throw new RangeError(`round ${this.setup.round} already folded ${this.count} contribution(s): a secure sum must be its only one`);
    const { mean, contributors } = input;
    if (!(mean instanceof Float32Array)) throw new TypeError('the secure sum mean must be a Float32Array');
    if (!Number.isSafeInteger(contributors) || contributors < 1) throw new RangeError(`contributors must be an integer ≥ 1, got ${contributors}`);
    const counted = this.setup.needsClientBits;
    const expected = sum.length + (counted ? 1 : 0);
    if (mean.length !== expected) {
      throw new FedkitError('update-size-mismatch', `the secure sum has ${mean.length} values, expected ${expected} (${sum.length} parameters${counted ? ' + the clipped count' : ''})`);
    }
    assertFinite(mean, 'secure-sum');
    const update = counted ? splitCountCoordinate(mean).update : mean;
    for (let i = 0; i < sum.length; i++) sum[i]! += update[i]! * contributors;
    if (counted) this.unclippedCount = splitCountCoordinate(mean).count * contributors;
    // Example counts stay on the clients under secure aggregation: each contributor counts one.
    this.numExamples += contributors;
    this.count = contributors;
    this.secureSum = true;
  }

  /** What has been folded (clipped sum, counts, metrics), for a cluster's coordinator to merge. */
  exportPartial(): AccumulatorPartial {
    const sum = this.#sum;
    if (sum === null) throw new FedkitError('round-closed', `round ${this.setup.round} was already aggregated`);
    if (this.secureSum) throw new RangeError(`round ${this.setup.round} holds a secure sum, which is not a partial`);
    return {
      kind: 'dp',
      count: this.count,
      totalWeight: this.count,
      sum: sum.slice(),
      counters: { numExamples: this.numExamples, unclippedCount: this.unclippedCount },
      metrics: this.metrics.exportSums(),
    };
  }

  /** Adds another process's `exportPartial()`: updates there were clipped as here. */
  mergePartial(partial: AccumulatorPartial): void {
    const sum = this.#sum;
    if (sum === null) throw new FedkitError('round-closed', `round ${this.setup.round} was already aggregated`);
    if (this.secureSum) throw new RangeError(`round ${this.setup.round} already holds a secure sum: partials cannot join it`);
    if (partial.kind !== 'dp') throw new TypeError(`cannot merge a "${partial.kind}" partial into a DP round`);
    if (partial.sum.length !== sum.length) {
      throw new FedkitError('update-size-mismatch', `a partial sum has ${partial.sum.length} floats, the model has ${sum.length}`);
    }
    for (let i = 0; i < sum.length; i++) sum[i]! += partial.sum[i]!;
    this.metrics.mergeSums(partial.metrics);
    this.count += partial.count;
    this.numExamples += partial.counters.numExamples ?? 0;
    this.unclippedCount += partial.counters.unclippedCount ?? 0;
  }

  /** Hands over the sum and closes the round: later `add`s throw `round-closed`. */
  take(): Float64Array {
    const sum = this.#sum;
    if (sum === null) throw new FedkitError('round-closed', `round ${this.setup.round} was already aggregated`);
    this.#sum = null;
    return sum;
  }
}

function assertFinite(update: Float32Array, clientId: string): void {
  for (let i = 0; i < update.length; i++) {
    if (!Number.isFinite(update[i]!)) {
      throw new FedkitError('update-not-finite', `update from client "${clientId}" has value ${update[i]} at index ${i}`);
    }
  }
}

/** The client's 0/1 report of ‖Δ‖ ≤ S; anything else is a protocol error, not a default. */
function clientBit(reply: TrainReply): number {
  const bit = reply.metrics[UNCLIPPED_METRIC];
  if (bit !== 0 && bit !== 1) {
    throw new FedkitError(
      'invalid-message',
      `client "${reply.clientId}" must report metric "${UNCLIPPED_METRIC}" as 0 or 1 under adaptive clipping, got ${String(bit)}`,
    );
  }
  return bit;
}
