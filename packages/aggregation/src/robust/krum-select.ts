/**
 * Krum's selection rule (Blanchard, El Mhamdi, Guerraoui & Stainer, "Machine Learning with
 * Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017), on a precomputed matrix
 * of squared distances, and Bulyan's recursive use of it (El Mhamdi, Guerraoui & Rouault,
 * "The Hidden Vulnerability of Distributed Learning in Byzantium", ICML 2018).
 *
 * Krum scores update i by the sum of its squared distances to its n − f − 2 nearest other
 * updates and picks the lowest score; the guarantee needs n ≥ 2f + 3. Ties (equal scores)
 * go to the smaller client id, so the choice never depends on the order replies arrived in
 * (Flower's `aggregate_krum` takes the first in arrival order).
 */
import { FedkitError } from '@fedkit/protocol';

/** Replies Krum needs to tolerate `f` Byzantine ones: n ≥ 2f + 3. */
export const krumMinimum = (f: number): number => 2 * f + 3;
/** Replies Bulyan needs to tolerate `f` Byzantine ones: n ≥ 4f + 3. */
export const bulyanMinimum = (f: number): number => 4 * f + 3;

const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Krum scores of the `members` (indices into the n × n matrix `distances`), each summing its
 * `neighbours` smallest distances to the other members.
 */
export function krumScores(distances: Float64Array, n: number, members: readonly number[], neighbours: number): Float64Array {
  const scores = new Float64Array(members.length);
  const row = new Float64Array(Math.max(0, members.length - 1));
  members.forEach((i, k) => {
    let w = 0;
    for (const j of members) if (j !== i) row[w++] = distances[i * n + j]!;
    row.sort();
    let score = 0;
    for (let q = 0; q < Math.min(neighbours, w); q++) score += row[q]!;
    scores[k] = score;
  });
  return scores;
}

/** The `m` members with the lowest scores, best first, ties to the smaller client id. */
function lowest(members: readonly number[], scores: Float64Array, clientIds: readonly string[], m: number): number[] {
  const order = members.map((_, k) => k);
  order.sort((a, b) => scores[a]! - scores[b]! || compareIds(clientIds[members[a]!]!, clientIds[members[b]!]!));
  return order.slice(0, m).map((k) => members[k]!);
}

/**
 * Krum (m = 1) or Multi-Krum (m > 1): the indices of the m updates with the lowest scores.
 * Throws `FedkitError('too-few-replies')` when n < 2f + 3 or n < m.
 *
 * @example
 * krumSelect(store.distances(), clientIds, 1, 1); // [index of the chosen update]
 */
export function krumSelect(distances: Float64Array, clientIds: readonly string[], f: number, m: number): number[] {
  const n = clientIds.length;
  if (n < krumMinimum(f) || n < m) {
    throw new FedkitError('too-few-replies', `Krum with f = ${f} and m = ${m} needs at least ${Math.max(krumMinimum(f), m)} updates (n ≥ 2f + 3), got ${n}`);
  }
  const members = clientIds.map((_, i) => i);
  return lowest(members, krumScores(distances, n, members, n - f - 2), clientIds, m);
}

/**
 * Bulyan's selection: θ = n − 2f updates chosen one at a time by Krum over those not yet
 * chosen (each time with max(1, n' − f − 2) neighbours for the n' left, as Flower's
 * `aggregate_bulyan`). Throws `FedkitError('too-few-replies')` when n < 4f + 3.
 */
export function bulyanSelect(distances: Float64Array, clientIds: readonly string[], f: number): number[] {
  const n = clientIds.length;
  if (n < bulyanMinimum(f)) throw new FedkitError('too-few-replies', `Bulyan with f = ${f} needs at least ${bulyanMinimum(f)} updates (n ≥ 4f + 3), got ${n}`);
  let left = clientIds.map((_, i) => i);
  const chosen: number[] = [];
  for (let round = 0; round < n - 2 * f; round++) {
    const neighbours = Math.max(1, left.length - f - 2);
    const [best] = lowest(left, krumScores(distances, n, left, neighbours), clientIds, 1);
    chosen.push(best!);
    left = left.filter((i) => i !== best);
  }
  return chosen;
}
