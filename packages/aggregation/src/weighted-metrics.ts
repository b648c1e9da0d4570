/**
 * Example-weighted means of the scalar metrics clients report (training loss, accuracy,
 * evaluation results). Every averaging strategy summarises rounds the same way, so the
 * arithmetic lives here once. Sums are float64: there are a handful of metrics, not
 * millions of parameters.
 */
import type { EvaluateReply, EvaluateSummary } from './strategy.js';
import { assertExampleCount } from './options.js';

/**
 * Folds `{ name: value }` records with weights and gives each metric's weighted mean over
 * the records that reported it. Non-finite values are ignored, so one client reporting
 * `NaN` loss does not poison the round's summary.
 */
export class WeightedMetrics {
  readonly #sums = new Map<string, { weighted: number; weight: number }>();

  add(metrics: Readonly<Record<string, number>>, weight: number): void {
    for (const [name, value] of Object.entries(metrics)) {
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      const entry = this.#sums.get(name) ?? { weighted: 0, weight: 0 };
      entry.weighted += weight * value;
      entry.weight += weight;
      this.#sums.set(name, entry);
    }
  }

  /** The raw weighted sums, to merge into another instance (a cluster's partial sums). */
  exportSums(): Record<string, { weighted: number; weight: number }> {
    return Object.fromEntries([...this.#sums].map(([name, entry]) => [name, { ...entry }]));
  }

  /** Adds `exportSums()` output of another instance. */
  mergeSums(sums: Readonly<Record<string, { weighted: number; weight: number }>>): void {
    for (const [name, { weighted, weight }] of Object.entries(sums)) {
      if (!Number.isFinite(weighted) || !Number.isFinite(weight)) continue;
      const entry = this.#sums.get(name) ?? { weighted: 0, weight: 0 };
      entry.weighted += weighted;
      entry.weight += weight;
      this.#sums.set(name, entry);
    }
  }

  /** Weighted mean of each metric; metrics whose total weight is 0 are left out. */
  means(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, { weighted, weight }] of this.#sums) {
      if (weight > 0) out[name] = weighted / weight;
    }
    return out;
  }
}

/**
 * Example-weighted mean loss and accuracy of evaluation replies, or `null` when there are
 * no replies or they hold no examples between them.
 *
 * @example
 * weightedEvaluate([{ clientId: 'a', numExamples: 1, loss: 1, accuracy: 0.5 },
 *                   { clientId: 'b', numExamples: 3, loss: 2, accuracy: 1 }]);
 * // → { loss: 1.75, accuracy: 0.875, numExamples: 4, numClients: 2 }
 */
export function weightedEvaluate(replies: readonly EvaluateReply[]): EvaluateSummary | null {
  let numExamples = 0;
  let loss = 0;
  let accuracy = 0;
  for (const reply of replies) {
    assertExampleCount(reply.numExamples, reply.clientId);
    // A client with no examples has no say, even if it reports NaN.
    if (reply.numExamples === 0) continue;
    numExamples += reply.numExamples;
    loss += reply.numExamples * reply.loss;
    accuracy += reply.numExamples * reply.accuracy;
  }
  if (numExamples === 0) return null;
  return { loss: loss / numExamples, accuracy: accuracy / numExamples, numExamples, numClients: replies.length };
}
