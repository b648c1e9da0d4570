/**
 * The strategies a simulation config can name. A registry rather than a switch, so that a
 * package adding a strategy (FedProx, DP-wrapped FedAvg, ...) registers it by name and every
 * config, the CLI and the validation messages pick it up.
 */
import { fedAvg, type FedAvgOptions, type Strategy } from '@fedkit/aggregation';

/** Builds a strategy from the config's `strategy.options` (validated by the factory). */
export type StrategyFactory = (options: Record<string, unknown>) => Strategy;

const registry = new Map<string, StrategyFactory>([['fedavg', (options) => fedAvg(options as FedAvgOptions)]]);

/**
 * Makes `name` usable in simulation configs. Throws RangeError if the name is taken.
 *
 * @example registerStrategy('fedmedian', () => fedMedian())
 */
export function registerStrategy(name: string, factory: StrategyFactory): void {
  if (registry.has(name)) throw new RangeError(`strategy "${name}" is already registered`);
  registry.set(name, factory);
}

export function hasStrategy(name: string): boolean {
  return registry.has(name);
}

/** The registered names, sorted (for messages and help). */
export function strategyNames(): string[] {
  return [...registry.keys()].sort();
}

/** Builds the named strategy; the name must be registered (the config checks it). */
export function createStrategy(name: string, options: Record<string, unknown>): Strategy {
  const factory = registry.get(name);
  if (factory === undefined) throw new RangeError(`unknown strategy "${name}"; registered: ${strategyNames().join(', ')}`);
  return factory(options);
}
