/**
 * The per-coordinate reductions the row stores compute, and their argument checks, shared by
 * the wasm and JS stores so both refuse the same mistakes the same way.
 */

/** What to compute per coordinate over (a subset of) the rows. */
export type ColumnReduction =
  /** `Σ_{from ≤ r < to} sorted[r] · scale`: a median (one or two middle ranks), a trimmed mean. */
  | { kind: 'ranks'; from: number; to: number; scale: number }
  /** Bulyan: the mean of the `beta` values closest to the median. */
  | { kind: 'closest'; beta: number };

export function checkIndices(indices: readonly number[] | undefined, count: number): readonly number[] {
  const rows = indices ?? Array.from({ length: count }, (_, i) => i);
  if (rows.length === 0) throw new RangeError('no rows to reduce');
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= count) throw new RangeError(`row index ${r} is outside [0, ${count})`);
  }
  return rows;
}

export function checkReduction(reduction: ColumnReduction, n: number): void {
  if (reduction.kind === 'ranks') {
    const { from, to } = reduction;
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from < to && to <= n)) {
      throw new RangeError(`ranks [${from}, ${to}) must lie inside [0, ${n})`);
    }
  } else if (!(Number.isInteger(reduction.beta) && reduction.beta >= 1 && reduction.beta <= n)) {
    throw new RangeError(`beta must be an integer in [1, ${n}], got ${reduction.beta}`);
  }
}

/** The comparator ranks a reduction needs sorted. */
export function wantedRanks(reduction: ColumnReduction, n: number): [number, number] {
  return reduction.kind === 'ranks' ? [reduction.from, reduction.to] : [0, n];
}

/** Median position(s) of n sorted values: both are the middle one when n is odd. */
export function middleRanks(n: number): [number, number] {
  return [(n - 1) >> 1, n >> 1];
}
