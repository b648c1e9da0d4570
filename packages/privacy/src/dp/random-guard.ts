/**
 * Where DP randomness comes from, and a guard that keeps test randomness out of production.
 * Noise drawn from a seeded generator is reproducible by anyone who knows (or guesses) the
 * seed, who can then subtract it: the guarantee is gone while every number still looks
 * noisy. So every DP factory defaults to `cryptoRandomSource()`, a seeded source has to be
 * passed in by name, and the server calls {@link assertProductionRandom} on its strategy
 * (and clients on their mods' source) unless it runs as a simulation.
 */
import { cryptoRandomSource, FedkitError, type RandomSource } from '@fedkit/protocol';

/** Throws `TypeError` unless `random` looks like a {@link RandomSource}. */
export function assertRandomSource(random: unknown, name = 'random'): asserts random is RandomSource {
  const r = random as Partial<RandomSource> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.nextFloat !== 'function' ||
    typeof r.nextUint32 !== 'function' ||
    (r.kind !== 'crypto' && r.kind !== 'seeded')
  ) {
    throw new TypeError(`${name} must be a RandomSource (cryptoRandomSource() or seededRandomSource(seed))`);
  }
}

/** The source to draw from: `random` when given (checked), else the platform CSPRNG. */
export function resolveRandom(random: RandomSource | undefined, name = 'random'): RandomSource {
  if (random === undefined) return cryptoRandomSource();
  assertRandomSource(random, name);
  return random;
}

/**
 * Throws `FedkitError('config-invalid')` unless `source` is the platform CSPRNG. Accepts a
 * `RandomSource` or anything that reports its kind, such as a DP strategy's `random`.
 *
 * @example
 * if (!config.simulation) assertProductionRandom(strategy.random, 'the DP strategy');
 */
export function assertProductionRandom(source: { readonly kind: RandomSource['kind'] }, what = 'random'): void {
  if (typeof source !== 'object' || source === null || source.kind !== 'crypto') {
    const kind = typeof source === 'object' && source !== null ? String(source.kind) : String(source);
    throw new FedkitError(
      'config-invalid',
      `${what} draws from a "${kind}" random source; differential privacy outside tests and simulations needs cryptoRandomSource()`,
    );
  }
}
