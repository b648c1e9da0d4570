/**
 * How a dataset is split among simulated clients, as a closed union that configs and CLIs
 * share. Kept apart from the partitioners so that a CLI can parse and validate a spec
 * (`--partition dirichlet:0.5`) before any data is loaded.
 */

import { FedkitError } from '@fedkit/protocol';

/**
 * A partition scheme:
 * - `iid`: shuffle, then equal split (McMahan et al. 2017: 100 clients × 600).
 * - `shards`: sort by label, cut into `numClients × shardsPerClient` equal shards, deal
 *   each client `shardsPerClient` random shards (McMahan's pathological non-IID split).
 * - `dirichlet`: per class, split that class among clients by proportions drawn from
 *   Dirichlet(alpha · 1_K) (Hsu et al. 2019; Flower's DirichletPartitioner). Smaller
 *   `alpha` means more skew; draws are repeated until every client holds `minExamples`.
 */
export type PartitionSpec =
  | { kind: 'iid' }
  | {
      kind: 'shards';
      /** Shards dealt to each client. @default 2 */
      shardsPerClient?: number;
    }
  | {
      kind: 'dirichlet';
      /** Concentration of the symmetric Dirichlet, > 0. */
      alpha: number;
      /** Fewest examples any client may get; draws are repeated until it holds. @default 1 (Flower uses 10) */
      minExamples?: number;
      /** Draws tried before giving up with `config-invalid`. @default 100 */
      maxAttempts?: number;
    };

/** The values of `PartitionSpec['kind']`. */
export const PARTITION_KINDS = ['iid', 'shards', 'dirichlet'] as const;

/** A spec with every default filled in and every field checked. */
export type ResolvedPartitionSpec =
  | { kind: 'iid' }
  | { kind: 'shards'; shardsPerClient: number }
  | { kind: 'dirichlet'; alpha: number; minExamples: number; maxAttempts: number };

const SYNTAX = 'iid, shards, shards:<shardsPerClient> or dirichlet:<alpha> (e.g. dirichlet:0.5)';

function configError(field: string, message: string, value: unknown): FedkitError {
  return new FedkitError('config-invalid', message, { field, value });
}

function integerAtLeast(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw configError(field, `partition ${field} must be an integer ≥ ${min}, got ${String(value)}`, value);
  }
  return value;
}

/** Checks a spec (it may come from JSON) and fills in defaults. Throws FedkitError('config-invalid'). */
export function resolvePartitionSpec(spec: PartitionSpec): ResolvedPartitionSpec {
  const kind = (spec as { kind?: unknown } | null)?.kind;
  switch (kind) {
    case 'iid':
      return { kind };
    case 'shards': {
      const s = spec as Extract<PartitionSpec, { kind: 'shards' }>;
      return { kind, shardsPerClient: integerAtLeast('shardsPerClient', s.shardsPerClient ?? 2, 1) };
    }
    case 'dirichlet': {
      const s = spec as Extract<PartitionSpec, { kind: 'dirichlet' }>;
      if (typeof s.alpha !== 'number' || !Number.isFinite(s.alpha) || s.alpha <= 0) {
        throw configError('alpha', `partition alpha must be a finite number > 0, got ${String(s.alpha)}`, s.alpha);
      }
      return {
        kind,
        alpha: s.alpha,
        minExamples: integerAtLeast('minExamples', s.minExamples ?? 1, 0),
        maxAttempts: integerAtLeast('maxAttempts', s.maxAttempts ?? 100, 1),
      };
    }
    default:
      throw configError('kind', `partition kind must be one of ${PARTITION_KINDS.join(', ')}, got ${JSON.stringify(kind)}`, kind);
  }
}

/**
 * Parses the CLI form of a spec: `iid`, `shards`, `shards:<shardsPerClient>` or
 * `dirichlet:<alpha>`. Throws FedkitError('config-invalid') listing the accepted forms.
 *
 * @example
 * parsePartitionSpec('dirichlet:0.5'); // { kind: 'dirichlet', alpha: 0.5 }
 */
export function parsePartitionSpec(text: string): PartitionSpec {
  const bad = (why: string): FedkitError =>
    configError('partition', `partition "${text}" ${why}; expected ${SYNTAX}`, text);
  const [kind, arg, extra] = String(text).trim().split(':');
  if (extra !== undefined) throw bad('has too many ":" parts');
  let spec: PartitionSpec;
  if (kind === 'iid') {
    if (arg !== undefined) throw bad('takes no argument after "iid"');
    spec = { kind };
  } else if (kind === 'shards') {
    if (arg === undefined) spec = { kind };
    else if (/^\d+$/.test(arg)) spec = { kind, shardsPerClient: Number(arg) };
    else throw bad(`has shardsPerClient "${arg}", which is not a positive integer`);
  } else if (kind === 'dirichlet') {
    if (arg === undefined || arg === '') throw bad('needs an alpha');
    if (!/^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(arg)) throw bad(`has alpha "${arg}", which is not a number > 0`);
    spec = { kind, alpha: Number(arg) };
  } else {
    throw bad('is not a known partition');
  }
  resolvePartitionSpec(spec);
  return spec;
}
