/**
 * What secure aggregation (SecAgg+) passes through Redis in cluster mode, and the zod
 * schemas every line is checked against when read back: nothing read from Redis is trusted.
 * Keys, per training task (`<base>:secagg:<task>:…`), all with a TTL (`secAggKeyTtlMs`):
 *
 * - `meta` (JSON): the round, each sampled client's secure-aggregation id, vector length and
 *   modulus, written by the coordinator before it opens the task;
 * - `stage`: the stage the coordinator is collecting; masked sums are stored only while it
 *   is `collect-masked` (the coordinator deletes it before reading them);
 * - `inbox:<process>` (list of JSON): the coordinator's stage requests for that process's
 *   clients, in the wire form of the `secagg` event, byte strings base64-encoded;
 * - `replies` (list of JSON): what processes forward: a client's validated reply (setup,
 *   share-keys, unmask), a drop-out, or the note that clients' masked inputs are stored;
 * - `masked` (hash: process id → bytes): each process's cumulative sum of its clients'
 *   masked vectors mod 2^k with the list of contributors. Never an individual update.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { FedkitError, isErrorCode, SECAGG_STAGES, type ErrorCode, type SecAggReplyMessage, type SecAggRequestMessage } from '@fedkit/protocol';
import { wordsToBytes } from '@fedkit/privacy/secagg';
import type { ClusterKeys } from './keys.js';

/** The shortest TTL of the keys (ms). */
const MIN_KEY_TTL_MS = 10 * 60_000;
/** Added to the round deadline and the lock TTL; covers the 4 polls after the deadline (pollMs ≤ 10 s) and a slow unmask. */
const KEY_TTL_MARGIN_MS = 60_000;
/** Largest line accepted from a reply or inbox list (keys and shares of a few hundred neighbours). */
const MAX_LINE_CHARS = 8 * 1024 * 1024;

const base64 = z.string().max(MAX_LINE_CHARS).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const id = z.string().min(1).max(200);

/** A `secagg` / `secagg-reply` message with its `data` bytes as base64. */
const wireSchema = z
  .object({ round: z.number().int().min(0), stage: z.enum(SECAGG_STAGES), payload: z.unknown(), data: base64.optional() })
  .strict();
type WireJson = z.infer<typeof wireSchema>;

export const secAggMetaSchema = z
  .object({
    taskId: id,
    round: z.number().int().min(0),
    /** Client id → secure-aggregation id (1 … n in client-id order). */
    ids: z.record(id, z.number().int().min(1).max(65535)),
    vectorLength: z.number().int().min(1),
    modulusBits: z.number().int().min(1).max(32),
  })
  .strict();
export type SecAggMeta = z.infer<typeof secAggMetaSchema>;

const inboxSchema = z.object({ clientId: id, message: wireSchema }).strict();

const forwardedSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('reply'), processId: id, clientId: id, message: wireSchema }).strict(),
  z
    .object({
      kind: z.literal('drop'),
      processId: id,
      clientId: id,
      code: z.string().refine((c): c is ErrorCode => isErrorCode(c), 'must be an error code'),
      message: z.string().max(2000),
    })
    .strict(),
  z.object({ kind: z.literal('masked'), processId: id, clients: z.array(id).max(65535) }).strict(),
]);
export type Forwarded =
  | { kind: 'reply'; processId: string; clientId: string; message: SecAggReplyMessage }
  | { kind: 'drop'; processId: string; clientId: string; code: ErrorCode; message: string }
  | { kind: 'masked'; processId: string; clients: string[] };

const maskedHeaderSchema = z.object({ contributors: z.array(id).min(1).max(65535) }).strict();

function parseLine<S extends z.ZodTypeAny>(schema: S, line: string, what: string): z.output<S> {
  let value: unknown;
  try {
    if (line.length > MAX_LINE_CHARS) throw new Error(`longer than ${MAX_LINE_CHARS} characters`);
    value = JSON.parse(line);
  } catch (error) {
    throw new FedkitError('invalid-message', `${what}: not JSON (${(error as Error).message})`);
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new FedkitError('invalid-message', `${what}: field "${issue.path.join('.') || '(root)'}": ${issue.message}`);
}

function toJson(message: SecAggRequestMessage | SecAggReplyMessage): WireJson {
  const data = message.data;
  const bytes = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : null;
  return { round: message.round, stage: message.stage, payload: message.payload, ...(bytes === null ? {} : { data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') }) };
}

function fromJson(json: WireJson): SecAggReplyMessage {
  return { round: json.round, stage: json.stage, payload: json.payload, ...(json.data === undefined ? {} : { data: new Uint8Array(Buffer.from(json.data, 'base64')) }) };
}

/** A forwarded line, checked. Throws `FedkitError('invalid-message')` naming the field. */
export function parseForwarded(line: string): Forwarded {
  const parsed = parseLine(forwardedSchema, line, 'forwarded secure-aggregation message');
  return parsed.kind === 'reply' ? { ...parsed, message: fromJson(parsed.message) } : (parsed as Forwarded);
}

/** An inbox line, checked. Throws `FedkitError('invalid-message')` naming the field. */
export function parseInbox(line: string): { clientId: string; message: SecAggRequestMessage } {
  const parsed = parseLine(inboxSchema, line, 'secure-aggregation request from the coordinator');
  return { clientId: parsed.clientId, message: fromJson(parsed.message) };
}

/** A process's masked sum: 4-byte header length, the JSON header (contributors), padding to 4, the words. */
export function encodeMaskedSum(contributors: readonly string[], words: Uint32Array): Buffer {
  const json = Buffer.from(JSON.stringify({ contributors }), 'utf8');
  const offset = Math.ceil((4 + json.length) / 4) * 4;
  const out = Buffer.alloc(offset + words.byteLength);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  out.set(wordsToBytes(words), offset);
  return out;
}

/** The inverse of `encodeMaskedSum`; throws `FedkitError('invalid-message')` on malformed bytes. */
export function decodeMaskedSum(bytes: Buffer, vectorLength: number): { contributors: string[]; masked: Uint8Array } {
  const fail = (why: string): never => {
    throw new FedkitError('invalid-message', `a stored masked sum ${why}`);
  };
  if (bytes.length < 4) fail('is shorter than its header');
  const length = bytes.readUInt32LE(0);
  const offset = Math.ceil((4 + length) / 4) * 4;
  if (offset > bytes.length) fail('has a header longer than itself');
  if (bytes.length - offset !== 4 * (vectorLength + 1)) fail(`has ${bytes.length - offset} bytes of words, expected ${4 * (vectorLength + 1)}`);
  const header = parseLine(maskedHeaderSchema, bytes.subarray(4, 4 + length).toString('utf8'), 'a stored masked sum');
  return { contributors: header.contributors, masked: new Uint8Array(bytes.subarray(offset)) };
}

const FORWARD = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1`;

const STORE_MASKED = `if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= 'collect-masked' then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]) redis.call('PEXPIRE', KEYS[3], ARGV[5]) end
redis.call('RPUSH', KEYS[4], ARGV[4])
redis.call('PEXPIRE', KEYS[4], ARGV[5])
return 1`;

/**
 * How long a task's secure-aggregation keys live (ms): at least 10 minutes, and longer than
 * the round can last (its stages share `roundDeadlineMs`, setup alone 70% of it) plus a
 * successor's wait for the lock, so no key expires mid-round: a list recreated after expiry
 * would shift every reader's index. The coordinator deletes them when the round ends; the
 * TTL is for what a dead coordinator leaves behind.
 *
 * @example secAggKeyTtlMs(30 * 60_000, 3000) // 1_863_000: 30 min + 3 s + 1 min
 */
export function secAggKeyTtlMs(roundDeadlineMs: number, coordinatorLockTtlMs: number): number {
  return Math.max(MIN_KEY_TTL_MS, roundDeadlineMs + coordinatorLockTtlMs + KEY_TTL_MARGIN_MS);
}

function secAggKey(keys: ClusterKeys, taskId: string, part: string): string {
  return `${keys.base}:secagg:${taskId}:${part}`;
}

/** Deletes every secure-aggregation key of `taskId` (`processIds`: those with an inbox). */
export async function dropSecAggKeys(redis: Redis, keys: ClusterKeys, taskId: string, processIds: Iterable<string>): Promise<void> {
  const key = (part: string): string => secAggKey(keys, taskId, part);
  await redis.del(key('meta'), key('stage'), key('replies'), key('masked'), ...[...new Set(processIds)].map((p) => key(`inbox:${p}`)));
}

/** One task's secure-aggregation keys and the reads and writes on them. */
export class SecAggChannel {
  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    readonly taskId: string,
    /** From `secAggKeyTtlMs`. */
    private readonly ttlMs: number,
  ) {}

  private key(part: string): string {
    return secAggKey(this.keys, this.taskId, part);
  }

  // ---- the coordinator ----------------------------------------------------------------------

  async writeMeta(meta: SecAggMeta): Promise<void> {
    await this.redis.set(this.key('meta'), JSON.stringify(meta), 'PX', this.ttlMs);
  }

  /** Opens `stage` for collection (null: none; masked sums are refused from then on). */
  async setStage(stage: SecAggRequestMessage['stage'] | null): Promise<void> {
    if (stage === null) await this.redis.del(this.key('stage'));
    else await this.redis.set(this.key('stage'), stage, 'PX', this.ttlMs);
  }

  /** Appends requests to each process's inbox. */
  async sendRequests(requests: readonly { processId: string; clientId: string; message: SecAggRequestMessage }[]): Promise<void> {
    if (requests.length === 0) return;
    const multi = this.redis.multi();
    for (const { processId, clientId, message } of requests) {
      const inbox = this.key(`inbox:${processId}`);
      multi.rpush(inbox, JSON.stringify({ clientId, message: toJson(message) }));
      multi.pexpire(inbox, this.ttlMs);
    }
    await multi.exec();
  }

  /** The forwarded lines from index `from` (unparsed: each is checked on its own). */
  readForwarded(from: number): Promise<string[]> {
    return this.redis.lrange(this.key('replies'), from, -1);
  }

  /** Every process's stored masked sum. */
  async readMaskedSums(): Promise<Map<string, Buffer>> {
    const all = await this.redis.hgetallBuffer(this.key('masked'));
    return new Map(Object.entries(all));
  }

  dropKeys(processIds: Iterable<string>): Promise<void> {
    return dropSecAggKeys(this.redis, this.keys, this.taskId, processIds);
  }

  // ---- a process relaying for its clients -----------------------------------------------------

  async readMeta(): Promise<SecAggMeta | null> {
    const raw = await this.redis.get(this.key('meta'));
    return raw === null ? null : parseLine(secAggMetaSchema, raw, 'secure-aggregation round description');
  }

  /** The inbox lines of `processId` from index `from`. */
  readInbox(processId: string, from: number): Promise<string[]> {
    return this.redis.lrange(this.key(`inbox:${processId}`), from, -1);
  }

  /** Forwards a reply or drop-out while the task is open; false once it is closed. */
  async forward(line: Forwarded): Promise<boolean> {
    const json = line.kind === 'reply' ? { ...line, message: toJson(line.message) } : line;
    const result = await this.redis.eval(FORWARD, 2, this.keys.open, this.key('replies'), this.taskId, JSON.stringify(json), String(this.ttlMs));
    return result === 1;
  }

  /** Stores `processId`'s masked sum and the note of who is new in it, only during collect-masked. */
  async storeMasked(processId: string, bytes: Buffer | null, clients: readonly string[]): Promise<boolean> {
    const note: Forwarded = { kind: 'masked', processId, clients: [...clients] };
    const result = await this.redis.eval(
      STORE_MASKED,
      4,
      this.keys.open,
      this.key('stage'),
      this.key('masked'),
      this.key('replies'),
      this.taskId,
      processId,
      bytes ?? '',
      JSON.stringify(note),
      String(this.ttlMs),
    );
    return result === 1;
  }
}
