/**
 * A simulation's config: one zod schema with every default, validated (and any model.json
 * read) before any work starts. Every failure is `config-invalid` naming the field and, for
 * closed choices, the allowed values (`field "dataset": unknown data set "cifar"; allowed:
 * mnist, synthetic`), so a typo costs a second, not an hour of training.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { parsePartitionSpec, resolvePartitionSpec, type PartitionSpec, type ResolvedPartitionSpec } from '@fedkit/client-core';
import { FedkitError } from '@fedkit/protocol';
import type { StrategySpec } from '@fedkit/aggregation';
import type { DpConfigInput } from '@fedkit/privacy';
import { ATTACK_KINDS, chooseAttackers, type ResolvedAttack } from './attack.js';
import { MIN_PERIOD_MS, meanOfflineMs } from './churn.js';
import { clientsPerRound, privacyWithDefaults, strategySpecOf, validateServerFacing, type AsyncSettings, type SecureAggregationSettings } from './server-settings.js';

export const DATASET_NAMES = ['mnist', 'synthetic'] as const;
export const BUILTIN_MODELS = ['2nn', 'cnn', 'linear'] as const;
const MNIST_TRAIN_EXAMPLES = 60_000;
const MNIST_TEST_EXAMPLES = 10_000;

const fraction = z.number().gt(0, 'must be > 0 and <= 1').max(1, 'must be > 0 and <= 1');
const probability = z.number().min(0, 'must be in [0, 1)').lt(1, 'must be in [0, 1)');
const positiveInt = z.number().int().min(1);
/** Shortest mean churn period (ms): 5× the clamp, where clamping lengthens the mean by 1.8%. */
const MIN_MEAN_PERIOD_MS = 5 * MIN_PERIOD_MS;

const syntheticSchema = z
  .object({
    name: z.literal('synthetic'),
    /** Training examples, split among the clients. @default 2000 */
    numExamples: positiveInt.default(2000),
    /** Held-out examples for central evaluation. @default 500 */
    testExamples: positiveInt.default(500),
    numFeatures: positiveInt.default(20),
    numClasses: z.number().int().min(2).max(256).default(4),
    /** Noise around each class centre (smaller = easier). @default 1 */
    noiseStddev: z.number().min(0).default(1),
  })
  .strict();

const mnistSchema = z
  .object({
    name: z.literal('mnist'),
    /** Use only the first `limit` training examples. @default all 60,000 */
    limit: positiveInt.max(MNIST_TRAIN_EXAMPLES).optional(),
    /** Evaluate on the first `testLimit` test examples. @default all 10,000 */
    testLimit: positiveInt.max(MNIST_TEST_EXAMPLES).optional(),
  })
  .strict();

export const simulationConfigSchema = z
  .object({
    /** Number of virtual clients K. */
    clients: positiveInt.max(100_000),
    /** Fraction C of clients selected each round. @default 0.1 */
    fraction: fraction.default(0.1),
    /** At least this many clients per round, and good replies for a round to count. @default 1 */
    minClients: positiveInt.default(1),
    /** `"mnist"`, `"synthetic"` or an object with `name` and options. @default "mnist" */
    dataset: z.unknown().default('mnist'),
    /** `iid`, `shards`, `shards:N`, `dirichlet:ALPHA` or a PartitionSpec object. @default "iid" */
    partition: z.unknown().default('iid'),
    /** `2nn`, `cnn`, `linear` (softmax regression) or a path to a tfjs model.json. @default "2nn" */
    model: z.string().min(1).default('2nn'),
    train: z
      .object({
        /** Local epochs E. @default 1 */
        epochs: positiveInt.max(1000).default(1),
        /** Local batch size B; null = the whole local set (B = ∞). @default 10 */
        batchSize: positiveInt.nullable().default(10),
        learningRate: z.number().positive().finite().default(0.1),
        /** η_r = η · decay^(r−1). @default 1 */
        learningRateDecay: z.number().positive().max(1).default(1),
      })
      .strict()
      .default({}),
    /** Most rounds to run. @default 100 */
    rounds: positiveInt.default(100),
    /** Test accuracy to reach; rounds-to-target is reported against it. */
    targetAccuracy: z.number().gt(0).max(1).optional(),
    /** Stop as soon as the target is reached. @default true */
    stopAtTarget: z.boolean().default(true),
    /**
     * The server's strategy: a name (`"fedadam"`) or the name with its parameters, flat as in
     * a server config (`{ "name": "fedprox", "proximalMu": 0.01 }`); the names are
     * @fedkit/aggregation's registry (fedavg, fedavgm, fedprox, fedadam, fedyogi, fedadagrad,
     * ...). Validated by the server's config validator. @default "fedavg"
     */
    strategy: z.union([z.string(), z.object({ name: z.string() }).passthrough()]).default('fedavg'),
    /**
     * The server's `privacy` option, passed through unchanged: `{ mode: 'local' | 'central' |
     * 'distributed', clipNorm, noiseMultiplier, expectedClients, adaptiveClipping, budget:
     * { epsilon, delta } }` (see @fedkit/privacy's validateDpConfig). The server's accountant
     * charges every round and refuses rounds past the budget; virtual clients run the DP mods
     * the train config asks for. `expectedClients` defaults to the clients sampled per round.
     * null = no DP. @default null
     */
    privacy: z.record(z.unknown()).nullable().default(null),
    /**
     * The server's `secureAggregation` option (SecAgg+): `{ enabled, threshold?,
     * neighbourCount?, quantization? }`. null = off. @default null
     */
    secureAggregation: z.record(z.unknown()).nullable().default(null),
    /**
     * Byzantine clients: a seeded fixed subset of ⌊fraction·K⌋ virtual clients sends −scale·Δ
     * (`sign-flip`, scale defaults to 1), scale·Δ (`scale`) or N(0, scale²) noise
     * (`gaussian-noise`, scale = the standard deviation) instead of its update Δ. null = no
     * attack. @default null
     */
    attack: z
      .object({
        fraction: z.number().gt(0, 'must be > 0 and < 1').lt(1, 'must be > 0 and < 1'),
        kind: z.enum(ATTACK_KINDS, { errorMap: () => ({ message: `allowed: ${ATTACK_KINDS.join(', ')}` }) }),
        scale: z.number().positive().finite().optional(),
      })
      .strict()
      .nullable()
      .default(null),
    faults: z
      .object({
        /** Chance that a selected client drops out (disconnects) instead of replying. @default 0 */
        dropout: probability.default(0),
        /** Chance that a selected client replies late: `stragglerDelayMs` (up to `stragglerDelayMaxMs`) late. @default 0 */
        straggler: probability.default(0),
        /** A straggler's delay (ms), or the low end of its range. @default 60000 */
        stragglerDelayMs: z.number().int().min(0).default(60_000),
        /** With this, a straggler's delay is drawn (seeded) uniformly from [stragglerDelayMs, stragglerDelayMaxMs]. */
        stragglerDelayMaxMs: z.number().int().min(0).optional(),
      })
      .strict()
      .default({}),
    /**
     * Client churn: at any time a fraction `offlineFraction` of the virtual clients is offline
     * (socket disconnected). Each client alternates seeded exponential online and offline
     * periods, mean `meanOnlineMs` online and meanOnlineMs·f/(1−f) offline, so that the offline
     * share is f from the start. A selected client that goes offline mid-round fails it (sync);
     * in async mode a client trains whenever it is online. null = every client always online.
     * @default null
     */
    churn: z
      .object({
        offlineFraction: z.number().gt(0, 'must be > 0 and < 1').lt(1, 'must be > 0 and < 1'),
        meanOnlineMs: z.number().int().min(MIN_MEAN_PERIOD_MS).max(86_400_000),
      })
      .strict()
      .superRefine((churn, ctx) => {
        const offMs = meanOfflineMs(churn);
        if (offMs < MIN_MEAN_PERIOD_MS) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['meanOnlineMs'],
            message: `the mean offline period meanOnlineMs·f/(1−f) is ${Math.round(offMs)} ms, below ${MIN_MEAN_PERIOD_MS} ms (periods are clamped to ${MIN_PERIOD_MS} ms, which would skew the offline share): raise meanOnlineMs or offlineFraction`,
          });
        }
      })
      .nullable()
      .default(null),
    /**
     * `'sync'`: rounds (sample, wait for all or the deadline, aggregate). `'async'`: the
     * server's buffered asynchronous mode (FedBuff): clients train whenever they are free, a
     * model version is published every `async.bufferSize` updates, and `rounds` is the most
     * versions to publish. @default 'sync'
     */
    mode: z.enum(['sync', 'async']).default('sync'),
    /**
     * The server's `async` options, passed through and validated by the server's own
     * validator: `{ bufferSize, maxStaleness, staleness?, concurrency?, staleRefusal?,
     * failureBackoffMs? }` (maxVersions comes from `rounds`). Required with mode 'async'.
     * @default null
     */
    async: z.record(z.unknown()).nullable().default(null),
    /** A round closes this long after it starts (ms); in async mode, a train task's deadline. @default 3600000 */
    roundDeadlineMs: z.number().int().min(10).default(3_600_000),
    /** Seed of sampling, model init, partition, shuffling and faults. @default 0 */
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    evaluation: z
      .object({
        /** Evaluate the global model on the central test set every N rounds (async: every N model versions). @default 1 */
        every: positiveInt.default(1),
        batchSize: positiveInt.default(1000),
      })
      .strict()
      .default({}),
    /** Worker threads; null = one per core. @default null */
    workers: positiveInt.max(64).nullable().default(null),
  })
  .strict();

export type SimulationConfigInput = z.input<typeof simulationConfigSchema>;
export type DatasetConfig = z.output<typeof mnistSchema> | z.output<typeof syntheticSchema>;
export type ModelChoice = { kind: 'builtin'; name: (typeof BUILTIN_MODELS)[number] } | { kind: 'path'; path: string };

export interface ResolvedSimulationConfig
  extends Omit<z.output<typeof simulationConfigSchema>, 'dataset' | 'partition' | 'model' | 'strategy' | 'privacy' | 'secureAggregation' | 'attack' | 'async'> {
  dataset: DatasetConfig;
  partition: ResolvedPartitionSpec;
  model: ModelChoice;
  strategy: StrategySpec;
  /** The server's privacy option, `expectedClients` filled in; null = no DP. */
  privacy: DpConfigInput | null;
  secureAggregation: SecureAggregationSettings | null;
  /** The attack with its attackers chosen; null = every client honest. */
  attack: ResolvedAttack | null;
  /** The server's async options (without maxVersions, which is `rounds`); null in sync mode. */
  async: AsyncSettings | null;
}

function invalid(field: string, detail: string): FedkitError {
  return new FedkitError('config-invalid', `simulation config: field "${field}": ${detail}`, { field });
}

/**
 * Validates a config (parsed JSON) and fills defaults; relative model paths are resolved
 * against `baseDir`. Async because a model.json is read here, before any work.
 *
 * @example await resolveSimulationConfig({ clients: 100, model: '2nn', partition: 'shards' })
 */
export async function resolveSimulationConfig(input: unknown, baseDir = process.cwd()): Promise<ResolvedSimulationConfig> {
  const parsed = simulationConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    const detail = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
    throw invalid(field, detail);
  }
  const raw = parsed.data;
  const dataset = resolveDataset(raw.dataset);
  const partition = resolvePartition(raw.partition);
  const trainExamples = dataset.name === 'mnist' ? (dataset.limit ?? MNIST_TRAIN_EXAMPLES) : dataset.numExamples;
  if (raw.clients > trainExamples) {
    throw invalid('clients', `${raw.clients} clients but only ${trainExamples} training examples`);
  }
  if (partition.kind === 'shards' && raw.clients * partition.shardsPerClient > trainExamples) {
    throw invalid(
      'partition.shardsPerClient',
      `${raw.clients} clients × ${partition.shardsPerClient} shards = ${raw.clients * partition.shardsPerClient} shards, more than the ${trainExamples} training examples`,
    );
  }
  if (raw.minClients > raw.clients) throw invalid('minClients', `${raw.minClients} exceeds "clients" (${raw.clients})`);
  const { stragglerDelayMs, stragglerDelayMaxMs } = raw.faults;
  if (stragglerDelayMaxMs !== undefined && stragglerDelayMaxMs < stragglerDelayMs) {
    throw invalid('faults.stragglerDelayMaxMs', `${stragglerDelayMaxMs} is below "faults.stragglerDelayMs" (${stragglerDelayMs}); the delay is drawn from [stragglerDelayMs, stragglerDelayMaxMs]`);
  }
  const async = asyncSettingsOf(raw.mode, raw.async);
  const strategy = strategySpecOf(raw.strategy);
  const privacy = privacyWithDefaults(raw.privacy, async === null ? clientsPerRound(raw) : bufferSizeOr(async, clientsPerRound(raw)));
  const secureAggregation = raw.secureAggregation as SecureAggregationSettings | null;
  validateServerFacing({ ...raw, strategy, privacy, secureAggregation, async });
  const attack = resolveAttack(raw.attack, raw.clients, raw.seed);
  const model = await resolveModelChoice(raw.model, baseDir);
  return { ...raw, dataset, partition, model, strategy, privacy, secureAggregation, attack, async };
}

/** The `async` field checked against `mode` (its contents are the server validator's). */
/** K of a not-yet-validated async field (the validator names a bad one; DP's m must not mask it). */
function bufferSizeOr(async: AsyncSettings, fallback: number): number {
  return Number.isSafeInteger(async.bufferSize) && (async.bufferSize as number) >= 1 ? (async.bufferSize as number) : fallback;
}

function asyncSettingsOf(mode: 'sync' | 'async', value: Record<string, unknown> | null): AsyncSettings | null {
  if (mode === 'sync') {
    if (value !== null) throw invalid('async', `only used with "mode": "async" (mode is "sync")`);
    return null;
  }
  if (value === null) throw invalid('async', `is required with "mode": "async" (at least { "bufferSize", "maxStaleness" })`);
  if ('maxVersions' in value) throw invalid('async.maxVersions', `is set by "rounds" in a simulation config (the most model versions to publish)`);
  return value as AsyncSettings;
}

function resolveAttack(value: z.output<typeof simulationConfigSchema>['attack'], clients: number, seed: number): ResolvedAttack | null {
  if (value === null) return null;
  if (value.scale === undefined && value.kind !== 'sign-flip') {
    throw invalid('attack.scale', `is required for kind "${value.kind}" (${value.kind === 'scale' ? 'the factor on Δ' : 'the noise standard deviation'}, > 0)`);
  }
  if (Math.floor(value.fraction * clients) < 1) {
    throw invalid('attack.fraction', `${value.fraction} of ${clients} clients is no attacker (⌊fraction·K⌋ = 0); allowed: fraction ≥ ${1 / clients}`);
  }
  return { kind: value.kind, fraction: value.fraction, scale: value.scale ?? 1, clients: chooseAttackers(clients, value.fraction, seed) };
}

function resolveDataset(value: unknown): DatasetConfig {
  const named = typeof value === 'string' ? { name: value } : value;
  const name = (named as { name?: unknown } | null)?.name;
  if (name === 'mnist' || name === 'synthetic') {
    const result = (name === 'mnist' ? mnistSchema : syntheticSchema).safeParse(named);
    if (result.success) return result.data;
    const issue = result.error.issues[0]!;
    const detail = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
    throw invalid(['dataset', ...issue.path].join('.'), detail);
  }
  throw invalid('dataset', `unknown data set ${JSON.stringify(name ?? value)}; allowed: ${DATASET_NAMES.join(', ')}`);
}

function resolvePartition(value: unknown): ResolvedPartitionSpec {
  try {
    const spec: PartitionSpec = typeof value === 'string' ? parsePartitionSpec(value) : (value as PartitionSpec);
    return resolvePartitionSpec(spec);
  } catch (error) {
    const sub = (error as FedkitError).details?.field;
    const field = typeof sub === 'string' && sub !== 'kind' && sub !== 'partition' ? `partition.${sub}` : 'partition';
    throw invalid(field, `${(error as Error).message} (allowed: iid, shards, shards:N, dirichlet:ALPHA with ALPHA > 0)`);
  }
}

async function resolveModelChoice(value: string, baseDir: string): Promise<ModelChoice> {
  if ((BUILTIN_MODELS as readonly string[]).includes(value)) return { kind: 'builtin', name: value as (typeof BUILTIN_MODELS)[number] };
  if (!value.endsWith('.json')) {
    throw invalid('model', `unknown model ${JSON.stringify(value)}; allowed: ${BUILTIN_MODELS.join(', ')} or a path to a tfjs model.json`);
  }
  const path = resolve(baseDir, value);
  try {
    const json = JSON.parse(await readFile(path, 'utf8')) as { modelTopology?: unknown };
    if (typeof json.modelTopology !== 'object' || json.modelTopology === null) throw new Error('no "modelTopology" (not a tfjs layers model)');
  } catch (error) {
    throw invalid('model', `cannot read the tfjs model.json at ${path}: ${(error as Error).message}`);
  }
  return { kind: 'path', path };
}

/** Reads and validates a JSON config file; relative paths in it are relative to the file. */
export async function loadSimulationConfig(path: string): Promise<ResolvedSimulationConfig> {
  const full = resolve(path);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (error) {
    throw new FedkitError('config-invalid', `cannot read simulation config ${full}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FedkitError('config-invalid', `simulation config ${full} is not valid JSON: ${(error as Error).message}`);
  }
  return resolveSimulationConfig(json, dirname(full));
}
