/**
 * The names under which a DP strategy tells clients what to do (train-config extras) and
 * clients report back (metrics). Server wrappers and client mods must agree on them, so
 * they are defined once here rather than as string literals on both sides.
 */

/** Train-config extras set by the DP strategy wrappers and read by the client mods. */
export const DP_CONFIG_KEYS = Object.freeze({
  /** `'central' | 'distributed'`: which DP mode the round runs in. */
  mode: 'dpMode',
  /** The L2 clip norm S for this round (it changes each round under adaptive clipping). */
  clipNorm: 'clipNorm',
  /** z for the noise a client adds itself (distributed mode only). */
  noiseMultiplier: 'noiseMultiplier',
  /** m, the expected number of clients per round (distributed mode only). */
  expectedClients: 'expectedClients',
  /**
   * σ_b, the stddev of the noise on the sum of clip indicators (distributed mode with
   * adaptive clipping only). Its presence tells the client to append its noised indicator
   * b + N(0, σ_b²/m) as one extra coordinate of the vector it masks (see secure-count.ts).
   */
  clippedCountStddev: 'clippedCountStddev',
} as const);

/**
 * Metric a client mod reports: 1 when the update's norm was ≤ S before clipping, else 0.
 * Adaptive clipping counts these to move S towards the target quantile.
 */
export const UNCLIPPED_METRIC = 'dpUnclipped';
