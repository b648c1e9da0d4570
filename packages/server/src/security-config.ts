/**
 * The server options that keep strangers out and hostile clients in check: who may join
 * (`auth`), which browser origins may connect (`cors`), how much one connection may send
 * (`connectionLimits`) and the built-in HTTPS option (`tls`). Spread into the server's one
 * options schema (config.ts); documented in README's operator section.
 */
import { z } from 'zod';

const positiveInt = z.number().int().min(1);

export const authOptionsSchema = z
  .object({
    /** The federation id enrollment tokens must be scoped to (`fedkit token create --federation`). */
    federationId: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:@-]+$/, 'only letters, digits and . _ : @ -'),
    /** Accept enrollment tokens signed with the server secret. @default true */
    tokens: z.boolean().default(true),
    /**
     * The server secret (HMAC-SHA256 key, 64 hex characters) tokens are signed with.
     * @default `<dataDir>/auth-secret.key`, created on first use
     */
    secretFile: z.string().min(1).optional(),
    /** Pre-registered client identity keys: base64 of 32-byte Ed25519 public keys. @default [] */
    publicKeys: z.array(z.string().min(1)).default([]),
    /** How far the client's or server's clock may be off when checking a token's times (ms). @default 300000 */
    clockSkewMs: z.number().int().min(0).max(24 * 3600_000).default(300_000),
  })
  .strict();

export const corsOptionsSchema = z
  .object({
    /** Browser origins allowed to call the API and open sockets, e.g. `https://app.example.org`; `'*'` allows any. */
    origins: z.array(z.string().min(1)).min(1),
  })
  .strict();

export const connectionLimitsSchema = z
  .object({
    /** Sustained messages per second per connection (token bucket refill). @default 200 */
    messagesPerSecond: z.number().positive().default(200),
    /** Messages a connection may send in a burst (bucket size). @default 400 */
    messageBurst: positiveInt.default(400),
    /** Sustained inbound payload bytes per second per connection. @default 67108864 (64 MiB) */
    bytesPerSecond: z.number().positive().default(64 * 1024 * 1024),
    /** Bytes a connection may send in a burst. @default 268435456 (256 MiB) */
    byteBurst: positiveInt.default(256 * 1024 * 1024),
    /** Messages refused for rate in a row before the connection is dropped. @default 100 */
    maxViolations: positiveInt.default(100),
  })
  .strict();

export const tlsOptionsSchema = z
  .object({
    /** PEM certificate (chain) file. */
    certFile: z.string().min(1),
    /** PEM private key file. */
    keyFile: z.string().min(1),
  })
  .strict();

export type AuthOptions = z.output<typeof authOptionsSchema>;
export type CorsOptions = z.output<typeof corsOptionsSchema>;
export type ConnectionLimits = z.output<typeof connectionLimitsSchema>;
export type TlsOptions = z.output<typeof tlsOptionsSchema>;
