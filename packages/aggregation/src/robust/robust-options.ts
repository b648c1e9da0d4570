/**
 * Options the robust strategies share, validated the way every factory validates options
 * (options.ts): `minReplies` may only raise an algorithm's own minimum (Krum's 2f + 3,
 * Bulyan's 4f + 3), never lower it, and the kernel is FedAvg's choice of wasm or JS.
 */
import { KERNELS } from '../fedavg.js';
import type { KernelChoice } from '../kernels/weighted-sum.js';
import { choiceOption, integerOption } from '../options.js';

export interface RobustCommonOptions {
  /**
   * Fewest replies for a round to count; with fewer, `aggregateTrain` returns `null` and the
   * server keeps the model. Must be at least the algorithm's own minimum.
   * @default the algorithm's minimum (1 for the median and trimmed mean, 2f + 3 for Krum, 4f + 3 for Bulyan)
   */
  minReplies?: number;
  /**
   * `'auto'` runs the WebAssembly SIMD kernels where available (and while the round's
   * n × P floats fit in one 4 GiB wasm memory), plain JS elsewhere; per-coordinate results
   * are bit-identical.
   * @default 'auto'
   */
  kernel?: KernelChoice;
}

export const COMMON_OPTION_NAMES = ['minReplies', 'kernel'] as const;

/** `minReplies` (≥ `minimum`, whose reason `why` the error names) and `kernel`. */
export function commonOptions(options: Record<string, unknown>, minimum: number, why: string): { minReplies: number; kernel: KernelChoice } {
  const minReplies = integerOption(options.minReplies, 'minReplies', minimum, 1);
  if (minReplies < minimum) throw new RangeError(`minReplies must be at least ${minimum} (${why}), got ${minReplies}`);
  return { minReplies, kernel: choiceOption(options.kernel, 'kernel', 'auto', KERNELS) };
}

/** f, the number of Byzantine clients to tolerate: an integer ≥ 0. */
export function maliciousOption(value: unknown): number {
  return integerOption(value, 'numMaliciousClients', 0, 0);
}
