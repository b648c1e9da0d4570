/**
 * "Rounds to reach a target accuracy" as McMahan et al. (2017) compute it: take the test
 * accuracy curve, make it monotone (best so far), find where it first crosses the target
 * and interpolate linearly between the two rounds around the crossing. Fractional results
 * are kept; the paper's tables round them.
 */

/** One evaluated round: its number and its test accuracy in [0, 1]. */
export interface AccuracyPoint {
  round: number;
  accuracy: number;
}

/** The best-so-far curve of `points` (sorted by round), same rounds. */
export function monotoneCurve(points: readonly AccuracyPoint[]): AccuracyPoint[] {
  const sorted = points.slice().sort((a, b) => a.round - b.round);
  let best = -Infinity;
  return sorted.map((p) => {
    best = Math.max(best, p.accuracy);
    return { round: p.round, accuracy: best };
  });
}

/**
 * Rounds until the monotone curve reaches `target`, interpolated linearly between the last
 * round below it and the first at or above it; `null` when it is never reached. If the
 * first evaluated round already reaches the target, that round is returned.
 *
 * @example roundsToTarget([{ round: 1, accuracy: 0.9 }, { round: 2, accuracy: 0.98 }], 0.97) // 1.875
 */
export function roundsToTarget(points: readonly AccuracyPoint[], target: number): number | null {
  const curve = monotoneCurve(points);
  for (let i = 0; i < curve.length; i++) {
    const p = curve[i]!;
    if (p.accuracy < target) continue;
    const prev = curve[i - 1];
    if (prev === undefined) return p.round;
    return prev.round + ((target - prev.accuracy) / (p.accuracy - prev.accuracy)) * (p.round - prev.round);
  }
  return null;
}
