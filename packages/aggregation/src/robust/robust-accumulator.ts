/**
 * The accumulator of every Byzantine-robust strategy: it keeps each reply's update (as a row
 * of a row store, copied, so callers may reuse their arrays) with its client id, because
 * medians, trimmed means and Krum need all updates at once. That costs n × P × 4 bytes a
 * round, against FedAvg's O(P), and is why these strategies cannot run under secure
 * aggregation, where the server only ever sees the sum.
 */
import { FedkitError, layoutSize, type WeightsLayout } from '@fedkit/protocol';
import type { KernelChoice } from '../kernels/weighted-sum.js';
import { assertExampleCount } from '../options.js';
import type { TrainReply, UpdateAccumulator } from '../strategy.js';
import { WeightedMetrics } from '../weighted-metrics.js';
import { createRowStore, type RowStore } from './row-store.js';
import { JsRowStore } from './js-row-store.js';

export class RobustAccumulator implements UpdateAccumulator {
  /** Σ n_k over the replies: reported, never used as a weight. */
  totalWeight = 0;
  readonly clientIds: string[] = [];
  readonly metrics = new WeightedMetrics();
  /** `null` once the round has been aggregated. */
  store: RowStore | null;

  constructor(
    /** The strategy object that began the round; only it may close it. */
    readonly owner: object,
    readonly round: number,
    readonly global: Float32Array,
    readonly kernel: KernelChoice,
    /** Where a wasm store gives up (wasm32's 4 GiB; lower only in tests). */
    maxWasmBytes?: number,
  ) {
    this.store = createRowStore(global.length, kernel, maxWasmBytes);
  }

  get count(): number {
    return this.clientIds.length;
  }

  add(reply: TrainReply): void {
    const store = this.store;
    if (store === null) throw new FedkitError('round-closed', `round ${this.round} was already aggregated`);
    // Check everything before keeping anything, so a rejected reply leaves no trace.
    assertExampleCount(reply.numExamples, reply.clientId);
    if (!(reply.update instanceof Float32Array)) throw new TypeError(`update from client "${reply.clientId}" must be a Float32Array`);
    if (typeof reply.metrics !== 'object' || reply.metrics === null) throw new TypeError(`metrics from client "${reply.clientId}" must be an object`);
    if (reply.update.length !== this.global.length) {
      throw new FedkitError('update-size-mismatch', `update from client "${reply.clientId}" has ${reply.update.length} floats, the model has ${this.global.length}`);
    }
    // Client ids break ties (Krum's scores), so two replies from one client would make the result depend on arrival order.
    if (this.clientIds.includes(reply.clientId)) throw new FedkitError('duplicate-update', `client "${reply.clientId}" already sent an update this round`);
    this.#addRow(store, reply.update);
    this.metrics.add(reply.metrics, reply.numExamples);
    this.clientIds.push(reply.clientId);
    this.totalWeight += reply.numExamples;
  }

  /** With kernel 'auto', a round too big for one wasm memory moves to plain JS rows. */
  #addRow(store: RowStore, update: Float32Array): void {
    try {
      store.add(update);
    } catch (error) {
      if (!(this.kernel === 'auto' && store.kernel === 'wasm-simd' && error instanceof FedkitError && error.code === 'backend-unavailable')) throw error;
      const js = new JsRowStore(store.length);
      for (let r = 0; r < store.count; r++) js.add(store.row(r));
      store.release();
      js.add(update);
      this.store = js;
    }
  }
}

/** Starts a robust round against `global`, after checking it matches `layout`. */
export function beginRobustRound(owner: object, round: number, global: Float32Array, layout: WeightsLayout, kernel: KernelChoice): RobustAccumulator {
  if (!(global instanceof Float32Array)) throw new TypeError('global weights must be a Float32Array');
  const size = layoutSize(layout);
  if (size !== global.length) {
    throw new FedkitError('weights-layout-invalid', `global weights have ${global.length} floats, the layout describes ${size}`);
  }
  return new RobustAccumulator(owner, round, global, kernel);
}
