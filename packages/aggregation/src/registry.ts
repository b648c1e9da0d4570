/**
 * Strategies by name, for configs: a server or simulation config says
 * `{ "name": "fedadam", "serverLearningRate": 0.01 }` and gets the strategy, or a
 * `FedkitError('config-invalid')` at start-up whose message names the field and the values
 * allowed. Parameters are validated by each factory; the registry only dispatches and
 * reports.
 */
import { FedkitError } from '@fedkit/protocol';
import { fedAvg, type FedAvgOptions } from './fedavg.js';
import { fedAvgM, type FedAvgMOptions } from './fedavgm.js';
import { fedAdagrad, fedAdam, fedYogi, type FedAdagradOptions, type FedAdamOptions, type FedYogiOptions } from './fedopt.js';
import { fedProx, type FedProxOptions } from './fedprox.js';
import { bulyan, type BulyanOptions } from './robust/bulyan.js';
import { fedMedian, type FedMedianOptions } from './robust/fedmedian.js';
import { fedTrimmedAvg, type FedTrimmedAvgOptions } from './robust/fedtrimmedavg.js';
import { krum, multiKrum, type KrumOptions, type MultiKrumOptions } from './robust/krum.js';
import { withNormBound, type NormBoundOptions } from './robust/norm-bound.js';
import type { ServerOptStrategy } from './server-opt-strategy.js';
import type { Strategy } from './strategy.js';

export const STRATEGY_NAMES = [
  'fedavg',
  'fedavgm',
  'fedadam',
  'fedyogi',
  'fedadagrad',
  'fedprox',
  'fedmedian',
  'fedtrimmedavg',
  'krum',
  'multikrum',
  'bulyan',
  'normbound',
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** A strategy's name and its factory's options, flat: `{ name: 'fedyogi', tau: 1e-3 }`. */
export type StrategySpec =
  | ({ name: 'fedavg' } & FedAvgOptions)
  | ({ name: 'fedavgm' } & FedAvgMOptions)
  | ({ name: 'fedadam' } & FedAdamOptions)
  | ({ name: 'fedyogi' } & FedYogiOptions)
  | ({ name: 'fedadagrad' } & FedAdagradOptions)
  | ({ name: 'fedprox' } & FedProxOptions)
  | ({ name: 'fedmedian' } & FedMedianOptions)
  | ({ name: 'fedtrimmedavg' } & FedTrimmedAvgOptions)
  | ({ name: 'krum' } & KrumOptions)
  | ({ name: 'multikrum' } & MultiKrumOptions)
  | ({ name: 'bulyan' } & BulyanOptions)
  /** Norm bounding around `inner` (default `{ name: 'fedavg' }`). */
  | ({ name: 'normbound'; inner?: StrategySpec | StrategyName } & NormBoundOptions);

/**
 * The Byzantine-robust strategies: each needs every client's own update, so none can run
 * under secure aggregation (the server sees only the sum) or central/distributed DP (the
 * inner strategy sees one noised mean).
 */
export const ROBUST_STRATEGY_NAMES: readonly StrategyName[] = ['fedmedian', 'fedtrimmedavg', 'krum', 'multikrum', 'bulyan', 'normbound'];

/** Whether the strategy `spec` names needs the clients' individual updates (see ROBUST_STRATEGY_NAMES). */
export function needsIndividualUpdates(spec: unknown): boolean {
  const name = (spec as { name?: unknown } | null)?.name;
  return isStrategyName(name) && ROBUST_STRATEGY_NAMES.includes(name);
}

const FACTORIES: Record<StrategyName, (options: never) => Strategy> = {
  fedavg: fedAvg,
  fedavgm: fedAvgM,
  fedadam: fedAdam,
  fedyogi: fedYogi,
  fedadagrad: fedAdagrad,
  fedprox: fedProx,
  fedmedian: fedMedian,
  fedtrimmedavg: fedTrimmedAvg,
  krum,
  multikrum: multiKrum,
  bulyan,
  normbound: normBoundFromSpec,
};

/** `{ maxNorm, inner }`: the inner spec's mistakes are reported under `strategy.inner.…`. */
function normBoundFromSpec(options: { inner?: unknown } & Record<string, unknown>): Strategy {
  const { inner, ...rest } = options;
  let strategy: Strategy;
  try {
    strategy = createStrategy((inner ?? 'fedavg') as StrategySpec | StrategyName);
  } catch (error) {
    if (!(error instanceof FedkitError)) throw error;
    const field = String(error.details?.field ?? 'strategy').replace(/^strategy/, 'strategy.inner');
    throw new FedkitError('config-invalid', error.message.replace(/^strategy/, 'strategy.inner'), { field });
  }
  return withNormBound(strategy, rest as unknown as NormBoundOptions);
}

export function isStrategyName(name: unknown): name is StrategyName {
  return typeof name === 'string' && (STRATEGY_NAMES as readonly string[]).includes(name);
}

/** Whether `strategy` keeps state between rounds that a server should persist. */
export function isServerOptStrategy(strategy: Strategy): strategy is ServerOptStrategy {
  const s = strategy as Partial<ServerOptStrategy>;
  return typeof s.toJSON === 'function' && typeof s.fromJSON === 'function' && typeof s.rule === 'string';
}

/**
 * Builds the strategy `spec` names. Every mistake (unknown name, unknown or out-of-range
 * parameter) is a `FedkitError('config-invalid')` naming the field, with `details.field`.
 *
 * @example
 * createStrategy({ name: 'fedadam', serverLearningRate: 0.01, tau: 1e-3 });
 * createStrategy({ name: 'fedprox', proximalMu: 0.1 });
 * createStrategy('fedmedian'); // a bare name: the strategy with its defaults
 */
export function createStrategy(specOrName: StrategySpec | StrategyName): Strategy {
  const spec: unknown = typeof specOrName === 'string' ? { name: specOrName } : specOrName;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new FedkitError('config-invalid', `strategy must be a name or an object with a name, got ${spec === null ? 'null' : typeof spec}`, { field: 'strategy' });
  }
  const { name, ...options } = spec as { name?: unknown } & Record<string, unknown>;
  if (!isStrategyName(name)) {
    throw new FedkitError('config-invalid', `strategy.name: unknown strategy ${JSON.stringify(name)}; allowed: ${STRATEGY_NAMES.join(', ')}`, {
      field: 'strategy.name',
    });
  }
  try {
    return (FACTORIES[name] as (options: Record<string, unknown>) => Strategy)(options);
  } catch (error) {
    if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
    // Factory messages start with the option's name ("beta1 must be ...") or quote it.
    const field = /^(\w+) must/.exec(error.message)?.[1] ?? /no option "(\w+)"/.exec(error.message)?.[1];
    const where = field === undefined ? 'strategy' : `strategy.${field}`;
    throw new FedkitError('config-invalid', `${where} (${name}): ${error.message}`, { field: where });
  }
}
