/**
 * The server's asynchronous-mode options (`mode: 'async'`, `async: {...}`): buffered
 * asynchronous aggregation after FedBuff (Nguyen et al., AISTATS 2022). The schema lives
 * here so that config.ts only mounts it; `checkAsyncMode` is the cross-field check
 * (what async mode cannot be combined with), run once by resolveServerOptions so that a
 * bad combination fails at start with `config-invalid` naming the field.
 */
import { z } from 'zod';
import { FedkitError } from '@fedkit/protocol';
import type { DpConfig } from '@fedkit/privacy';

/** s(τ), as @fedkit/aggregation's StalenessWeighting (FedAsync's functions). */
export const stalenessSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant') }).strict(),
  /** s(τ) = (1 + τ)^−exponent; FedBuff uses 0.5. */
  z.object({ kind: z.literal('polynomial'), exponent: z.number().finite().min(0) }).strict(),
  /** s(τ) = 1 for τ ≤ b, else 1/(a·(τ − b) + 1). */
  z.object({ kind: z.literal('hinge'), a: z.number().finite().positive(), b: z.number().int().min(0) }).strict(),
]);

export const asyncOptionsSchema = z
  .object({
    /** K ≥ 1: updates folded into each published model version. Required. */
    bufferSize: z.number().int().min(1),
    /**
     * Largest staleness τ = (current version − the update's base version) accepted as is.
     * Older updates are refused with `update-stale` or folded down-weighted, per
     * `staleRefusal`. Required: the right value depends on how slow your slowest clients are.
     */
    maxStaleness: z.number().int().min(0),
    /** @default { kind: 'polynomial', exponent: 0.5 } (FedBuff's 1/√(1 + τ)) */
    staleness: stalenessSchema.default({ kind: 'polynomial', exponent: 0.5 }),
    /** At most this many clients train at once; unset = every idle joined client. */
    concurrency: z.number().int().min(1).optional(),
    /**
     * What happens to an update staler than maxStaleness: `'refuse'` answers `update-stale`
     * and folds nothing; `'down-weight'` folds it weighted by s(τ) like any other (needs a
     * decreasing s). @default 'refuse'
     */
    staleRefusal: z.enum(['refuse', 'down-weight']).default('refuse'),
    /** Stop once the model is at this version (a resumed server counts the versions before it). @default 100 */
    maxVersions: z.number().int().min(1).default(100),
    /** After a client's task fails, wait this long before giving it another (ms). @default 1000 */
    failureBackoffMs: z.number().int().min(0).default(1000),
  })
  .strict();

export type AsyncOptions = z.output<typeof asyncOptionsSchema>;

/** The options async mode needs to see; a structural subset of ResolvedServerOptions. */
export interface AsyncModeView {
  mode: 'sync' | 'async';
  async?: AsyncOptions | undefined;
  secureAggregation?: { enabled: boolean } | undefined;
  encryptUpdates: boolean;
  foldOrder: 'arrival' | 'client-id';
  privacy: DpConfig;
}

/**
 * Throws `config-invalid` naming the field when async mode is misconfigured or combined
 * with something it cannot do (see docs/protocol.md, "Asynchronous mode").
 */
export function checkAsyncMode(options: AsyncModeView): void {
  const fail = (field: string, message: string): never => {
    throw new FedkitError('config-invalid', `server options: field "${field}": ${message}`);
  };
  if (options.mode === 'sync') {
    if (options.async !== undefined) fail('async', `only used with mode 'async' (mode is 'sync')`);
    return;
  }
  const a = options.async ?? fail('async', `is required with mode 'async' (at least { bufferSize, maxStaleness })`);
  if (options.secureAggregation?.enabled === true) {
    // SecAgg+ unmasks only the sum of one fixed cohort after several message stages; FedBuff
    // folds each update alone as it arrives, so there is no cohort to mask against.
    fail('secureAggregation', `not available with mode 'async': secure aggregation needs a synchronous cohort, FedBuff folds one update at a time`);
  }
  if (options.encryptUpdates) fail('encryptUpdates', `not available with mode 'async' yet (sealed updates use one key pair per synchronous round)`);
  if (options.foldOrder === 'client-id') fail('foldOrder', `'client-id' has no meaning with mode 'async': updates are folded as they arrive`);
  if (a.staleRefusal === 'down-weight') {
    const s = a.staleness;
    if (s.kind === 'constant' || (s.kind === 'polynomial' && s.exponent === 0)) {
      fail('async.staleRefusal', `'down-weight' needs a decreasing staleness function (polynomial with exponent > 0, or hinge), got ${JSON.stringify(s)}`);
    }
  }
  const dp = options.privacy;
  if (dp.mode === 'central') {
    if (dp.adaptiveClipping !== null) fail('privacy.adaptiveClipping', `not available with mode 'async' yet; use a fixed clipNorm`);
    if (dp.expectedClients !== a.bufferSize) {
      fail('privacy.expectedClients', `must equal async.bufferSize (${a.bufferSize}) with mode 'async': each published version is one release of exactly K clipped updates, got ${dp.expectedClients}`);
    }
  }
}
