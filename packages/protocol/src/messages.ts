/**
 * Every message of the wire protocol, as a zod schema with its TypeScript type beside it.
 * Types are not validation: both ends parse each inbound payload with these schemas (via
 * `parseMessage`) before acting on it, and answer a payload that does not parse with an
 * `invalid-message` error naming the field. docs/protocol.md documents the same shapes.
 */
import { z } from 'zod';
import { FedkitError, ERROR_CODES } from './errors.js';

const uint = z.number().int().nonnegative();
const finite = z.number().finite();
const id = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:@-]+$/, 'only letters, digits and . _ : @ -');

/** Binary payloads arrive as Buffer (Node) or ArrayBuffer (browsers); both become Uint8Array. */
export const binarySchema = z
  .union([z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be binary'), z.instanceof(ArrayBuffer)])
  .transform((b): Uint8Array => (b instanceof Uint8Array ? b : new Uint8Array(b)));

/** A binary field of exactly `bytes` bytes (keys, nonces, signatures). */
const fixedBinary = (bytes: number) => binarySchema.refine((b) => b.byteLength === bytes, `must be exactly ${bytes} bytes`);

export const tensorSpecSchema = z.object({
  name: z.string().min(1).max(256),
  shape: z.array(uint).max(8),
});

export const wireErrorSchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string().max(4000),
});

const scalar = z.union([finite, z.string().max(1000), z.boolean(), z.null()]);

/** The train config sent to selected clients; strategies may add scalar extras. */
export const trainConfigSchema = z
  .object({
    epochs: z.number().int().min(1).max(1000),
    /** `null` means the whole local data set is one batch (B = ∞). */
    batchSize: z.number().int().min(1).nullable(),
    learningRate: z.number().positive().finite(),
  })
  .catchall(scalar);
export type WireTrainConfig = z.infer<typeof trainConfigSchema>;

export const evaluateConfigSchema = z.object({ batchSize: z.number().int().min(1) }).catchall(scalar);

// ---- client → server -------------------------------------------------------------------

export const PLATFORMS = ['node', 'browser', 'native', 'other'] as const;

export const helloSchema = z.object({
  protocolVersion: z.number().int(),
  clientId: id,
  /** Examples the client will train on (FedAvg's n_k). */
  numExamples: uint,
  /** Held-out examples the client will evaluate on. */
  numEvalExamples: uint.default(0),
  platform: z.enum(PLATFORMS),
  /** The tfjs backend in use, e.g. "wasm", "webgpu", "cpu". */
  backend: z.string().min(1).max(64),
  /** Why that backend was chosen (or why a better one was not). */
  backendReason: z.string().max(1000).optional(),
  /** The client's long-term Ed25519 public key; required by servers that encrypt updates. */
  identityPublicKey: fixedBinary(32).optional(),
  /**
   * An enrollment token issued by the federation's operator (`fedkit token create`);
   * required by servers configured with token authentication.
   */
  authToken: z.string().min(1).max(2048).optional(),
  /**
   * Ed25519 signature, with the identity key, of `fedkit-hello-v1|<socket.io session id>|<clientId>`
   * (UTF-8): proves possession of a pre-registered identity key. See HELLO_SIGNATURE_DOMAIN.
   */
  authSignature: fixedBinary(64).optional(),
});
/** Prefix of the message a client signs to prove its identity key in `hello.authSignature`. */
export const HELLO_SIGNATURE_DOMAIN = 'fedkit-hello-v1';

/** The exact bytes a client signs for `hello.authSignature`. */
export function helloSignatureMessage(sessionId: string, clientId: string): Uint8Array {
  return new TextEncoder().encode(`${HELLO_SIGNATURE_DOMAIN}|${sessionId}|${clientId}`);
}
export type HelloMessage = z.input<typeof helloSchema>;

export const chunkSchema = z
  .object({
    transferId: id,
    index: uint,
    count: z.number().int().min(1),
    /** Size of every chunk but the last, in bytes. */
    chunkBytes: z.number().int().min(1),
    totalBytes: uint,
    /** CRC-32 (IEEE) of `data`. */
    crc32: z.number().int().min(0).max(0xffffffff),
    data: binarySchema,
  })
  .superRefine((c, ctx) => {
    const expectedCount = Math.max(1, Math.ceil(c.totalBytes / c.chunkBytes));
    if (c.count !== expectedCount) {
      ctx.addIssue({ code: 'custom', path: ['count'], message: `expected ${expectedCount} for ${c.totalBytes} bytes in chunks of ${c.chunkBytes}` });
    }
    if (c.index >= c.count) ctx.addIssue({ code: 'custom', path: ['index'], message: `must be below count ${c.count}` });
  });
export type ChunkMessage = z.infer<typeof chunkSchema>;

const ID_PATTERN = /^[A-Za-z0-9._:@-]+$/;
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/**
 * Parses a `chunk` payload with exactly the result of `parseMessage(chunkSchema, payload, 'chunk')`.
 * Chunks are most of the messages of a round (13 per 6.65 MB model per client), and zod costs
 * tens of microseconds each until V8 has optimized it, so a well-formed plain object is checked
 * here by hand; anything else goes through the schema, which names the bad field.
 */
export function parseChunk(payload: unknown): ChunkMessage {
  if (typeof payload === 'object' && payload !== null && Object.getPrototypeOf(payload) === Object.prototype) {
    const { transferId, index, count, chunkBytes, totalBytes, crc32, data } = payload as Record<string, unknown>;
    if (
      typeof transferId === 'string' && transferId.length <= 128 && ID_PATTERN.test(transferId) &&
      isUint(index) && isUint(count) && count >= 1 && isUint(chunkBytes) && chunkBytes >= 1 && isUint(totalBytes) &&
      isUint(crc32) && crc32 <= 0xffffffff &&
      count === Math.max(1, Math.ceil(totalBytes / chunkBytes)) && index < count
    ) {
      if (data instanceof Uint8Array) return { transferId, index, count, chunkBytes, totalBytes, crc32, data };
      if (data instanceof ArrayBuffer) return { transferId, index, count, chunkBytes, totalBytes, crc32, data: new Uint8Array(data) };
    }
  }
  return parseMessage(chunkSchema, payload, 'chunk');
}

export const trainResultSchema = z.object({
  round: z.number().int().min(1),
  /** The chunked transfer holding the update: local − global, little-endian float32. */
  transferId: id,
  numExamples: uint,
  /** The tensors of the update, in order; must equal the model's layout. */
  layout: z.array(tensorSpecSchema).max(10_000),
  metrics: z.record(z.string().max(64), finite),
  /**
   * The model version the update was trained from (the `modelVersion` of its `train`
   * request). Asynchronous servers check it against the version they sent; synchronous
   * servers ignore it. Optional for clients written before asynchronous mode.
   */
  baseModelVersion: uint.optional(),
  /**
   * Present when the server encrypts updates: the transfer then holds the nacl.box ciphertext
   * of the update, sealed to `roundPublicKey` and signed with the client's identity key.
   */
  envelope: z
    .object({
      nonce: fixedBinary(24),
      clientBoxPublicKey: fixedBinary(32),
      signature: fixedBinary(64),
    })
    .optional(),
});
export type TrainResultMessage = z.infer<typeof trainResultSchema>;

export const trainErrorSchema = z.object({
  round: z.number().int().min(1),
  error: z.object({ code: z.string().max(64), message: z.string().max(4000) }),
});
export type TrainErrorMessage = z.infer<typeof trainErrorSchema>;

export const evaluateResultSchema = z.object({
  round: z.number().int().min(0),
  numExamples: uint,
  loss: finite,
  accuracy: z.number().min(0).max(1),
});
export type EvaluateResultMessage = z.infer<typeof evaluateResultSchema>;

// ---- server → client -------------------------------------------------------------------

export const modelDescriptorSchema = z.object({
  /** Keras-format model topology (tfjs `modelTopology`), or null when the client brings its own. */
  topology: z.record(z.unknown()).nullable(),
  layout: z.array(tensorSpecSchema),
  numParams: uint,
});
export type ModelDescriptor = z.infer<typeof modelDescriptorSchema>;

export const welcomeSchema = z.object({
  ok: z.literal(true),
  protocolVersion: z.number().int(),
  sessionId: z.string(),
  model: modelDescriptorSchema,
  limits: z.object({
    maxChunkBytes: z.number().int().min(1),
    maxTransferBytes: z.number().int().min(1),
    transferTimeoutMs: z.number().int().min(1),
  }),
  /** Whether updates must be sealed (encrypted and signed) to each round's key. */
  encryptUpdates: z.boolean().default(false),
  /**
   * Whether training rounds run secure aggregation: the client keeps its update and answers
   * the `secagg` stage requests instead of sending a `train-result`.
   */
  secureAggregation: z.boolean().default(false),
});
export type WelcomeMessage = z.infer<typeof welcomeSchema>;

export const trainSchema = z.object({
  round: z.number().int().min(1),
  /** Increments each time the global model changes. */
  modelVersion: uint,
  /** The chunked transfer (sent just before) holding the global weights. */
  transferId: id,
  /** Milliseconds left until the round's deadline when the server sent this message. */
  deadlineMs: z.number().int().min(0),
  config: trainConfigSchema,
  /** The round's ephemeral X25519 public key, when the server encrypts updates. */
  roundPublicKey: fixedBinary(32).optional(),
});
export type TrainMessage = z.infer<typeof trainSchema>;

export const evaluateSchema = z.object({
  round: z.number().int().min(0),
  modelVersion: uint,
  transferId: id,
  deadlineMs: z.number().int().min(0),
  config: evaluateConfigSchema,
});
export type EvaluateMessage = z.infer<typeof evaluateSchema>;

export const FINISH_REASONS = ['completed', 'stopped', 'budget-exhausted', 'server-shutting-down'] as const;
export const finishedSchema = z.object({
  reason: z.enum(FINISH_REASONS),
  round: uint,
  message: z.string(),
});
export type FinishedMessage = z.infer<typeof finishedSchema>;

export const errorMessageSchema = wireErrorSchema.extend({ round: uint.optional() });
export type ErrorMessage = z.infer<typeof errorMessageSchema>;

/** The reply to every client → server message that takes an acknowledgement. */
export const ackSchema = z.union([z.object({ ok: z.literal(true) }), z.object({ ok: z.literal(false), error: wireErrorSchema })]);
export type AckReply = z.infer<typeof ackSchema>;

/**
 * Parses an inbound payload, throwing `invalid-message` that names the first bad field.
 *
 * @example const hello = parseMessage(helloSchema, payload, 'hello');
 */
/** The secure-aggregation stages, in order. */
export const SECAGG_STAGES = ['setup', 'share-keys', 'collect-masked', 'unmask'] as const;

/**
 * Server → client `secagg`: one stage request of a secure-aggregation round. `payload` is the
 * stage's request object of @fedkit/privacy/secagg (`secagg-setup`, `secagg-share-keys`,
 * `secagg-collect-masked`, `secagg-unmask`) with its byte strings packed into `data`
 * (`packBinaryFields`), checked there by `parseSecAggRequest` once unpacked.
 */
export const secAggRequestSchema = z.object({
  round: uint,
  stage: z.enum(SECAGG_STAGES),
  payload: z.unknown(),
  /** The payload's byte strings, concatenated (see binary-fields.ts). */
  data: z.unknown().optional(),
});
export type SecAggRequestMessage = z.infer<typeof secAggRequestSchema>;

/**
 * Client → server `secagg-reply`: the client's answer to one stage. `payload` is the
 * stage's reply object (`secagg-keys`, `secagg-shares`, `secagg-masked`,
 * `secagg-unmask-shares`), checked by `parseSecAggReply`; a `secagg-masked` payload carries
 * `transferId` (a chunked transfer of the masked words) instead of `masked`.
 */
export const secAggReplySchema = z.object({
  round: uint,
  stage: z.enum(SECAGG_STAGES),
  payload: z.unknown(),
  /** The payload's byte strings, concatenated (see binary-fields.ts). */
  data: z.unknown().optional(),
});
export type SecAggReplyMessage = z.infer<typeof secAggReplySchema>;

export function parseMessage<S extends z.ZodTypeAny>(schema: S, payload: unknown, what: string): z.output<S> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : '(payload)';
  throw new FedkitError('invalid-message', `${what}: field "${field}": ${issue.message}`);
}
