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
 *
 * Each update's neighbours are sorted by distance once; every step then sums the nearest
 * ones still left, so the θ steps cost O(n²) each rather than a fresh O(n² log n) sort
 * (O(n³) in all: ~10⁶ operations at n = 100, ~10⁹ at n = 1,000).
 */
export function bulyanSelect(distances: Float64Array, clientIds: readonly string[], f: number): number[] {
  const n = clientIds.length;
  if (n < bulyanMinimum(f)) throw new FedkitError('too-few-replies', `Bulyan with f = ${f} needs at least ${bulyanMinimum(f)} updates (n ≥ 4f + 3), got ${n}`);
  const nearest = clientIds.map((_, i) => {
    const others = clientIds.map((_, j) => j).filter((j) => j !== i);
    return Int32Array.from(others.sort((a, b) => distances[i * n + a]! - distances[i * n + b]!));
  });
  const left = new Uint8Array(n).fill(1);
  const scores = new Float64Array(n);
  const chosen: number[] = [];
  for (let remaining = n; remaining > 2 * f; remaining--) {
    const neighbours = Math.max(1, remaining - f - 2);
    let best = -1;
    for (let i = 0; i < n; i++) {
      if (left[i] === 0) continue;
      let score = 0;
      let taken = 0;
      for (let q = 0; q < n - 1 && taken < neighbours; q++) {
        const j = nearest[i]![q]!;
        if (left[j] === 0) continue;
        score += distances[i * n + j]!;
        taken++;
      }
      scores[i] = score;
      if (best < 0 || score < scores[best]! || (score === scores[best]! && clientIds[i]! < clientIds[best]!)) best = i;
    }
    chosen.push(best);
    left[best] = 0;
  }
  return chosen;
}
