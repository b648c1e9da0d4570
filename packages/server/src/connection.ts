/**
 * One client connection: the handshake, chunk reassembly, and routing of results to the
 * round loop. Every inbound payload is parsed with the protocol's schemas; every handler
 * answers through the acknowledgement (or a `fedkit-error` event when the client gave none)
 * and never throws into socket.io, so no client input can crash the server.
 */
import type { Socket } from 'socket.io';
import {
  FedkitError,
  PROTOCOL_VERSION,
  TransferAssembler,
  evaluateResultSchema,
  helloSchema,
  parseChunk,
  parseMessage,
  secAggReplySchema,
  toWireError,
  trainErrorSchema,
  trainResultSchema,
  type ClientToServerEvents,
  type Crc32,
  type EvaluateResultMessage,
  type SecAggReplyMessage,
  type ServerToClientEvents,
  type TrainErrorMessage,
  type TrainResultMessage,
  type WelcomeMessage,
  type WireError,
} from '@fedkit/protocol';
import type { ClientInfo } from './client-registry.js';
import type { HelloCredentials } from './auth/authenticator.js';
import { ConnectionLimiter, payloadBytes } from './auth/connection-limiter.js';
import type { ConnectionLimits } from './security-config.js';
import type { Logger } from './logger.js';

export type FedkitSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** What a connection needs from the server (implemented by FederationServer). */
export interface ConnectionHost {
  readonly logger: Logger;
  join(info: ClientInfo, connection: ClientConnection, credentials?: Pick<HelloCredentials, 'authToken' | 'authSignature'>): WelcomeMessage;
  leave(clientId: string, connection: ClientConnection): void;
  /** May return a promise: the acknowledgement then waits for it (cluster mode stores the update first). */
  onTrainResult(clientId: string, msg: TrainResultMessage, connection: ClientConnection): void | Promise<void>;
  onTrainError(clientId: string, msg: TrainErrorMessage): void;
  onEvaluateResult(clientId: string, msg: EvaluateResultMessage): void;
  onSecAggReply(clientId: string, msg: SecAggReplyMessage, connection: ClientConnection): void | Promise<void>;
  onBytesIn(bytes: number): void;
  transferLimits(): { maxChunkBytes: number; maxTransferBytes: number; timeoutMs: number; checksum: Crc32 };
  /** Per-connection rate limits; none when absent. */
  connectionLimits?(): ConnectionLimits;
}

/** Refusals after which the socket is dropped: the client cannot (or must not) go on. */
const DISCONNECT_CODES: ReadonlySet<string> = new Set(['protocol-version-mismatch', 'auth-missing', 'auth-invalid', 'auth-expired', 'auth-wrong-federation', 'auth-key-unknown']);

type AckFn = (reply: unknown) => void;

export class ClientConnection {
  clientId: string | null = null;
  readonly transfers: TransferAssembler;
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private readonly limiter: ConnectionLimiter | null;

  constructor(
    readonly socket: FedkitSocket,
    private readonly host: ConnectionHost,
  ) {
    const limits = host.transferLimits();
    this.transfers = new TransferAssembler({
      maxChunkBytes: limits.maxChunkBytes,
      maxTransferBytes: limits.maxTransferBytes,
      timeoutMs: limits.timeoutMs,
      checksum: limits.checksum,
      maxPendingTransfers: 2,
    });
    this.sweepTimer = setInterval(() => this.transfers.sweep(), Math.max(1000, limits.timeoutMs / 2));
    this.sweepTimer.unref?.();
    const rateLimits = host.connectionLimits?.();
    this.limiter = rateLimits === undefined ? null : new ConnectionLimiter(rateLimits);
    this.bind('hello', (payload) => this.onHello(payload));
    this.bind('chunk', (payload) => this.onChunk(payload));
    this.bind('train-result', (payload) => {
      const msg = parseMessage(trainResultSchema, payload, 'train-result');
      return this.host.onTrainResult(this.requireJoined(), msg, this);
    });
    this.bind('train-error', (payload) => {
      const msg = parseMessage(trainErrorSchema, payload, 'train-error');
      this.host.onTrainError(this.requireJoined(), msg);
    });
    this.bind('evaluate-result', (payload) => {
      const msg = parseMessage(evaluateResultSchema, payload, 'evaluate-result');
      this.host.onEvaluateResult(this.requireJoined(), msg);
    });
    this.bind('secagg-reply', (payload) => {
      const msg = parseMessage(secAggReplySchema, payload, 'secagg-reply');
      return this.host.onSecAggReply(this.requireJoined(), msg, this);
    });
    socket.on('disconnect', (reason) => {
      clearInterval(this.sweepTimer);
      this.transfers.clear();
      if (this.clientId !== null) this.host.leave(this.clientId, this);
      this.host.logger.info({ clientId: this.clientId, reason }, 'client disconnected');
    });
  }

  /** Sends an unsolicited error to this client. */
  sendError(error: WireError, round?: number): void {
    this.socket.emit('fedkit-error', round === undefined ? error : { ...error, round });
  }

  /** Disconnects after telling the client why. */
  reject(error: WireError): void {
    this.sendError(error);
    this.socket.disconnect(true);
  }

  private bind(event: keyof ClientToServerEvents, handler: (payload: unknown) => unknown): void {
    // socket.io's typed `on` wants exact listener types; the payload is untrusted, so take unknown.
    const listen = this.socket.on.bind(this.socket) as (event: string, listener: (...args: unknown[]) => void) => void;
    listen(event, (payload: unknown, ack: unknown) => {
      const reply: AckFn | null = typeof ack === 'function' ? (ack as AckFn) : null;
      if (!this.admit(event, payload, reply)) return;
      const fail = (error: unknown): void => {
        const wire = toWireError(error);
        if (wire.code === 'internal') this.host.logger.error({ err: error, event, clientId: this.clientId }, 'handler failed');
        else this.host.logger.warn({ event, clientId: this.clientId, code: wire.code }, wire.message);
        if (reply) reply({ ok: false, error: wire });
        else this.sendError(wire);
        if (DISCONNECT_CODES.has(wire.code)) this.socket.disconnect(true);
      };
      try {
        const result = handler(payload);
        if (result instanceof Promise) result.then((value: unknown) => reply?.(value ?? { ok: true }), fail);
        else reply?.(result ?? { ok: true });
      } catch (error) {
        fail(error);
      }
    });
  }

  /** Charges the rate limits; refuses (and eventually drops) a connection over them. */
  private admit(event: string, payload: unknown, reply: AckFn | null): boolean {
    const verdict = this.limiter?.admit(payloadBytes(payload)) ?? 'ok';
    if (verdict === 'ok') return true;
    const wire: WireError = { code: 'rate-limited', message: `too many messages or bytes from this connection (${event} refused); slow down` };
    if (verdict === 'disconnect') {
      this.host.logger.warn({ clientId: this.clientId, event }, 'rate limits exceeded repeatedly; dropping the connection');
      this.reject({ ...wire, message: 'rate limits exceeded repeatedly; disconnected' });
    } else if (reply) reply({ ok: false, error: wire });
    else this.sendError(wire);
    return false;
  }

  private requireJoined(): string {
    if (this.clientId === null) throw new FedkitError('not-joined', 'send hello before anything else');
    return this.clientId;
  }

  private onHello(payload: unknown): WelcomeMessage {
    const version = (payload as { protocolVersion?: unknown } | null)?.protocolVersion;
    if (version !== PROTOCOL_VERSION) {
      throw new FedkitError(
        'protocol-version-mismatch',
        `this server speaks protocol version ${PROTOCOL_VERSION}, the client sent ${JSON.stringify(version)}`,
      );
    }
    if (this.clientId !== null) throw new FedkitError('already-joined', `already joined as ${this.clientId}`);
    const hello = parseMessage(helloSchema, payload, 'hello');
    const info: ClientInfo = {
      clientId: hello.clientId,
      socketId: this.socket.id,
      numExamples: hello.numExamples,
      numEvalExamples: hello.numEvalExamples,
      platform: hello.platform,
      backend: hello.backend,
      joinedAt: Date.now(),
      busyWith: null,
      ...(hello.backendReason === undefined ? {} : { backendReason: hello.backendReason }),
      ...(hello.identityPublicKey === undefined ? {} : { identityPublicKey: hello.identityPublicKey.slice() }),
    };
    const welcome = this.host.join(info, this, {
      ...(hello.authToken === undefined ? {} : { authToken: hello.authToken }),
      ...(hello.authSignature === undefined ? {} : { authSignature: hello.authSignature }),
    });
    this.clientId = hello.clientId;
    return welcome;
  }

  private onChunk(payload: unknown): void {
    this.requireJoined();
    const chunk = parseChunk(payload);
    this.host.onBytesIn(chunk.data.byteLength);
    this.transfers.add(chunk);
  }
}
