/**
 * The server's options: one zod schema with every default in one place, validated once at
 * start. An invalid option fails `resolveServerOptions` with `config-invalid` naming the
 * field (e.g. `sampling.fraction: must be > 0 and <= 1, got 1.5`), never later mid-round.
 */
import { z } from 'zod';
import { FedkitError } from '@fedkit/protocol';
import { adaptiveSplitOf, assertCountCoordinateFits, validateDpConfig, type DpConfig, type DpConfigInput } from '@fedkit/privacy';
import { createStrategy, needsIndividualUpdates, type StrategySpec } from '@fedkit/aggregation';
import { authOptionsSchema, connectionLimitsSchema, corsOptionsSchema, tlsOptionsSchema } from './security-config.js';
import { asyncOptionsSchema, checkAsyncMode } from './async/async-config.js';
import { checkClusterMode, clusterOptionsSchema } from './cluster/cluster-config.js';

const positiveInt = z.number().int().min(1);

export const trainDefaultsSchema = z
  .object({
    /** Local epochs E. @default 1 */
    epochs: positiveInt.max(1000).default(1),
    /** Local batch size B; null = whole local set (B = ∞). @default 10 */
    batchSize: positiveInt.nullable().default(10),
    /** Client learning rate η. @default 0.1 */
    learningRate: z.number().positive().finite().default(0.1),
    /** Multiply η by this each round (η_r = η · decay^(r−1)). @default 1 */
    learningRateDecay: z.number().positive().max(1).default(1),
  })
  .strict();

export const serverOptionsSchema = z
  .object({
    /**
     * `'sync'`: rounds (sample, wait, aggregate). `'async'`: buffered asynchronous
     * aggregation (FedBuff): idle clients train whenever they can and the server publishes a
     * model version every `async.bufferSize` updates. @default 'sync'
     */
    mode: z.enum(['sync', 'async']).default('sync'),
    /** Asynchronous mode's options (see async/async-config.ts); required with mode 'async'. */
    async: asyncOptionsSchema.optional(),
    /** Stop after this many completed rounds. @default 10 */
    rounds: positiveInt.default(10),
    /** Stop early once the evaluated accuracy reaches this (central if available, else federated). */
    targetAccuracy: z.number().gt(0).max(1).optional(),
    /** Wait for this many joined clients before starting a round. @default 2 */
    minClients: positiveInt.default(2),
    sampling: z
      .object({
        /** Fraction C of available clients selected each round. @default 1 */
        fraction: z.number().gt(0, 'must be > 0 and <= 1').max(1, 'must be > 0 and <= 1').default(1),
        /** At least this many selected, and at least this many good replies for a round to count. @default 1 */
        minFit: positiveInt.default(1),
        /**
         * Over-selection: sample ⌈m·overSelection⌉ clients for the m wanted, and close the
         * round on the first m good replies; later replies are refused (`late-reply`) and not
         * folded. Google's production system uses 1.3. Not with secure aggregation. @default 1
         */
        overSelection: z.number().min(1).max(10).default(1),
      })
      .strict()
      .default({}),
    /** A round closes this long after it starts, whoever has not replied counts as failed (ms). @default 120000 */
    roundDeadlineMs: z.number().int().min(10).default(120_000),
    /**
     * Order in which a round's valid updates are folded into the strategy. `'arrival'` folds
     * each as it comes (O(model) memory); `'client-id'` buffers the round's validated updates
     * and folds them sorted by client id when the round closes, and samples from the idle
     * clients sorted by id, so that float sums (and the model) do not depend on reply or join
     * order: what reproducible simulations need. Costs O(selected × model) memory.
     * @default 'arrival'
     */
    foldOrder: z.enum(['arrival', 'client-id']).default('arrival'),
    /**
     * Require every update sealed end to end: boxed (nacl.box) to a fresh key pair per round
     * and signed with the client's Ed25519 identity key (hello's identityPublicKey). @default false
     */
    encryptUpdates: z.boolean().default(false),
    /**
     * SecAgg+ in every training round: clients mask their updates and the server only ever
     * learns the weighted mean of the survivors. `threshold` defaults to a majority of each
     * client's share holders; `neighbourCount` (SecAgg+'s k) to the full graph; quantization
     * to Flower's (clippingRange 8, quantizationRange 2^22, modulusBits 32, maxWeight 1000).
     * Validated with @fedkit/privacy/secagg's validateSecAggParams. @default undefined (off)
     */
    secureAggregation: z
      .object({
        enabled: z.boolean(),
        threshold: positiveInt.optional(),
        neighbourCount: positiveInt.optional(),
        quantization: z
          .object({
            clippingRange: z.number().positive().optional(),
            quantizationRange: positiveInt.optional(),
            modulusBits: positiveInt.optional(),
            maxWeight: z.number().positive().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    /** Give up training after this many consecutive failed attempts at one round. @default 5 */
    maxRoundAttempts: positiveInt.default(5),
    /**
     * Differential privacy: `{ mode: 'none' | 'local' | 'central' | 'distributed', clipNorm, noiseMultiplier,
     * expectedClients, adaptiveClipping, budget: { epsilon, delta } }`, validated by
     * @fedkit/privacy's validateDpConfig. @default { mode: 'none' }
     */
    privacy: z.unknown().optional(),
    /**
     * The aggregation strategy by name with its parameters, e.g. `{ name: 'fedadam',
     * serverLearningRate: 0.01 }`: fedavg, fedavgm, fedadam, fedyogi, fedadagrad, fedprox
     * (@fedkit/aggregation's createStrategy). @default { name: 'fedavg' }
     */
    strategy: z.unknown().optional(),
    train: trainDefaultsSchema.default({}),
    evaluate: z
      .object({
        /** Federated evaluation every N completed rounds; 0 turns it off. @default 1 */
        every: z.number().int().min(0).default(1),
        /** Fraction of clients (with held-out data) asked to evaluate. @default 1 */
        fraction: z.number().gt(0).max(1).default(1),
        batchSize: positiveInt.default(100),
        /** Evaluation replies are awaited this long (ms). @default 60000 */
        deadlineMs: z.number().int().min(10).default(60_000),
      })
      .strict()
      .default({}),
    /**
     * Where the server persists its state after every completed round (model, round,
     * strategy and accountant state, client registry) and resumes from on restart; also the
     * default home of the auth secret. @default undefined (nothing persisted)
     */
    dataDir: z.string().min(1).optional(),
    /** Who may join: enrollment tokens and/or pre-registered identity keys. @default undefined (anyone) */
    auth: authOptionsSchema.optional(),
    /** Browser origins allowed (HTTP API and sockets). @default undefined (no CORS headers; any origin may open a socket) */
    cors: corsOptionsSchema.optional(),
    /** Per-connection message-rate and byte-rate limits. */
    connectionLimits: connectionLimitsSchema.default({}),
    /** Serve HTTPS and WSS directly with this certificate. @default undefined (plain HTTP; use a reverse proxy) */
    tls: tlsOptionsSchema.optional(),
    /**
     * Scale-out: several server processes share one federation through Redis (see
     * cluster/README.md). @default undefined (one process, nothing shared)
     */
    cluster: clusterOptionsSchema.optional(),
    transfer: z
      .object({
        /** Largest binary chunk per socket.io message, in bytes. @default 524288 */
        maxChunkBytes: z.number().int().min(1024).max(4 * 1024 * 1024).default(512 * 1024),
        /** Incomplete inbound transfers are dropped after this long (ms). @default 60000 */
        timeoutMs: z.number().int().min(100).default(60_000),
      })
      .strict()
      .default({}),
  })
  .strict();

export type ServerOptionsInput = Omit<z.input<typeof serverOptionsSchema>, 'privacy' | 'strategy'> & { privacy?: DpConfigInput; strategy?: StrategySpec };
export type ResolvedServerOptions = Omit<z.output<typeof serverOptionsSchema>, 'privacy' | 'strategy'> & { privacy: DpConfig; strategy: StrategySpec };

/**
 * Under distributed DP with adaptive clipping each client's noised clip indicator rides in
 * the masked vector, quantized like the update: the quantization range must hold it.
 */
function checkCountCoordinate(options: ResolvedServerOptions): void {
  const dp = options.privacy;
  const split = adaptiveSplitOf(dp);
  if (dp.mode !== 'distributed' || split === null) return;
  const { clippedCountStddev } = split;
  try {
    assertCountCoordinateFits(options.secureAggregation?.quantization ?? {}, { clippedCountStddev, expectedClients: dp.expectedClients! });
  } catch (error) {
    const message = (error as Error).message;
    const field = message.startsWith('maxWeight') ? 'maxWeight' : 'clippingRange';
    throw new FedkitError('config-invalid', `server options: field "secureAggregation.quantization.${field}": ${message}`);
  }
}

/**
 * Validates options and fills defaults. Throws `config-invalid` naming the first bad field.
 *
 * @example resolveServerOptions({ rounds: 5, sampling: { fraction: 0.1 } })
 */
export function resolveServerOptions(input: unknown): ResolvedServerOptions {
  const result = serverOptionsSchema.safeParse(input ?? {});
  if (!result.success) throw configError(result.error, 'server options');
  const { privacy, strategy, ...rest } = result.data;
  let dp: DpConfig;
  const strategySpec = (strategy ?? { name: 'fedavg' }) as StrategySpec;
  try {
    dp = validateDpConfig(privacy ?? { mode: 'none' }, { secureAggregation: rest.secureAggregation?.enabled === true, field: 'privacy' });
    // Built once here only to validate the spec; the server builds its own.
    createStrategy(strategySpec);
    // Robust strategies need each client's own update; secure aggregation and central or
    // distributed DP hand the strategy only a (masked or noised) mean.
    const hidden = rest.secureAggregation?.enabled === true ? 'secureAggregation' : dp.mode === 'central' || dp.mode === 'distributed' ? `privacy mode "${dp.mode}"` : null;
    if (hidden !== null && needsIndividualUpdates(strategySpec)) {
      throw new Error(`strategy.name "${strategySpec.name}" needs every client's own update and cannot run with ${hidden}, which shows the strategy only a mean`);
    }
  } catch (error) {
    const message = (error as Error).message.replace(/^strategy(\.\w+)? /, (m) => `field "${m.trim()}": `);
    throw new FedkitError('config-invalid', `server options: ${message}`);
  }
  const options: ResolvedServerOptions = { ...rest, privacy: dp, strategy: strategySpec };
  checkCountCoordinate(options);
  checkAsyncMode(options);
  checkClusterMode(options);
  if (options.sampling.minFit > options.minClients) {
    throw new FedkitError(
      'config-invalid',
      `server options: field "sampling.minFit" (${options.sampling.minFit}) must not exceed "minClients" (${options.minClients})`,
    );
  }
  if (options.sampling.overSelection > 1 && options.secureAggregation?.enabled === true) {
    throw new FedkitError('config-invalid', 'server options: field "sampling.overSelection": not available with secure aggregation (its round needs every sampled client)');
  }
  if (options.auth?.tokens === true && options.auth.secretFile === undefined && options.dataDir === undefined) {
    throw new FedkitError('config-invalid', 'server options: field "auth.secretFile": token authentication needs a secret file or a dataDir to keep it in');
  }
  if (options.auth !== undefined && !options.auth.tokens && options.auth.publicKeys.length === 0) {
    throw new FedkitError('config-invalid', 'server options: field "auth": with tokens off, list at least one client key in "auth.publicKeys"');
  }
  return options;
}

/** Turns a zod error into `config-invalid` naming the field path. */
export function configError(error: z.ZodError, what: string): FedkitError {
  const issue = error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : '(root)';
  const detail = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
  return new FedkitError('config-invalid', `${what}: field "${field}": ${detail}`);
}
