/**
 * Runtime validation of everything a process reads back from Redis. Redis is shared with the
 * other processes (and whoever else can reach it), so its values are inbound data like any
 * client message: each JSON record is checked against a schema before use, and a value that
 * does not fit throws `state-corrupt` naming the key's role, never a TypeError later on.
 */
import { z } from 'zod';
import { evaluateConfigSchema, FedkitError, FINISH_REASONS, isErrorCode, trainConfigSchema } from '@fedkit/protocol';

const count = z.number().int().min(0);
const finite = z.number().finite();
const id = z.string().min(1).max(256);

export const memberRecordSchema = z.object({
  processId: id,
  at: finite,
  modelVersion: count,
  clients: z.array(z.object({ clientId: id, numExamples: count, numEvalExamples: count })),
});

const finishedSchema = z.object({ reason: z.enum(FINISH_REASONS), message: z.string() });

export const stateMetaSchema = z.object({
  modelVersion: count,
  round: count,
  strategyState: z.unknown(),
  privacyState: z.unknown(),
  finished: finishedSchema.nullable(),
  writer: id,
});

export const clusterTaskSchema = z.object({
  id: id,
  kind: z.enum(['train', 'evaluate']).optional(),
  round: count,
  attempt: z.number().int().min(1),
  modelVersion: count,
  config: z.union([trainConfigSchema, evaluateConfigSchema]),
  startedAt: finite.optional(),
  deadlineAt: finite,
  target: count.optional(),
  assignments: z.record(id, id),
});

const errorCode = z.string().refine(isErrorCode, { message: 'not a known error code' });

export const taskEventSchema = z.object({
  processId: id,
  answered: z.array(id),
  failed: z.array(z.object({ clientId: id, code: errorCode, message: z.string() })),
  evaluations: z
    .array(z.object({ clientId: id, numExamples: count, loss: finite, accuracy: z.number().min(0).max(1) }))
    .optional(),
});

export const partialHeaderSchema = z.object({
  kind: z.string().min(1),
  count: count,
  totalWeight: z.number().finite().min(0),
  counters: z.record(z.string(), finite),
  metrics: z.record(z.string(), z.object({ weighted: finite, weight: finite })),
  clients: z.array(id),
});

export const controlStateSchema = z.object({ paused: z.boolean(), stopRequested: z.boolean() });

/** A recorded round: the fields every reader relies on; the rest is carried as written. */
export const roundRecordSchema = z
  .object({ round: count, attempt: z.number().int().min(1), status: z.enum(['completed', 'failed']), modelVersion: count, startedAt: z.string() })
  .passthrough();

/** Parses `raw` (JSON text) with `schema`; throws `state-corrupt` naming `what` when it does not fit. */
export function parseRecord<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new FedkitError('state-corrupt', `Redis holds an invalid ${what}: not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.length > 0 ? ` at "${issue.path.join('.')}"` : '';
    throw new FedkitError('state-corrupt', `Redis holds an invalid ${what}${at}: ${issue.message}`);
  }
  return parsed.data;
}
