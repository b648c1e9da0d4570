/**
 * The client side of the wire protocol, platform-neutral: join with a hello, receive chunked
 * weights, train or evaluate through a `LocalTrainer`, send the update back in chunks, and
 * rejoin after every reconnect (socket.io's manager reconnects with exponential backoff).
 * Node and browser clients are thin wrappers that choose a backend and a data source.
 */
import type { Socket } from 'socket.io-client';
import {
  FedkitError,
  PROTOCOL_VERSION,
  TransferAssembler,
  cryptoRandomSource,
  decodeFloat32,
  encodeFloat32,
  errorMessageSchema,
  evaluateSchema,
  finishedSchema,
  parseChunk,
  packBinaryFields,
  parseMessage,
  secAggRequestSchema,
  splitTransfer,
  toWireError,
  trainSchema,
  welcomeSchema,
  type AckReply,
  type ClientToServerEvents,
  type Crc32,
  type ErrorMessage,
  type EvaluateMessage,
  type FinishedMessage,
  type HelloReply,
  type ServerToClientEvents,
  type TrainMessage,
  type RandomSource,
  type SecAggRequestMessage,
  type WelcomeMessage,
  type WireTrainConfig,
} from '@fedkit/protocol';
import {
  DP_CONFIG_KEYS,
  applyMods,
  createIdentityKeyPair,
  distributedDpMod,
  localDpMod,
  secureSumVector,
  sealUpdate,
  signHello,
  type IdentityKeyPair,
  type TrainMod,
} from '@fedkit/privacy';
import type { LocalTrainer } from './local-trainer.js';
import { SecAggSession } from './secagg-session.js';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface FedkitClientOptions {
  /** A socket.io-client socket created with `autoConnect: false` (the client connects it). */
  socket: ClientSocket;
  clientId: string;
  trainer: LocalTrainer;
  platform: 'node' | 'browser' | 'native' | 'other';
  backend: string;
  backendReason?: string;
  /**
   * CRC-32 for chunks in and out. @default the pure-TypeScript `crc32` of @fedkit/protocol;
   * Node clients pass zlib's, which gives the same values several times faster.
   */
  checksum?: Crc32;
  /**
   * Extra client mods (outermost first) around local training, e.g. a stricter DP mod.
   * The DP mod the server's train config asks for (`dpMode` 'local' or 'distributed') is
   * added innermost automatically.
   */
  mods?: readonly TrainMod[];
  /** Source of the DP noise, nonces and keys of this client. @default cryptoRandomSource() */
  random?: RandomSource;
  /**
   * This client's long-term Ed25519 identity (nacl.sign key pair). Servers that encrypt
   * updates require it: updates are signed with it. Persist it to keep the identity across
   * restarts. @default a fresh key pair for this client object
   */
  identity?: IdentityKeyPair;
  /**
   * An enrollment token from the federation's operator (`fedkit token create`), sent in
   * every hello; required by servers with token authentication. @default none
   */
  authToken?: string;
  /**
   * Sign each hello with the identity key (`hello.authSignature`), for servers that admit
   * pre-registered keys. @default true when `identity` is given (a persisted identity), else false
   */
  signHello?: boolean;
  /**
   * How long to wait for the server's answer to a hello (ms). When it does not come on a
   * live connection, the client drops that connection and joins again on a fresh one
   * `helloRetryDelayMs` later. @default 30000
   */
  helloTimeoutMs?: number;
  /** Pause before reconnecting after an unanswered hello (ms). @default 1000 */
  helloRetryDelayMs?: number;
  /** Receives structured log events; no console output otherwise. */
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface ClientEvents {
  joined: WelcomeMessage;
  'train-start': TrainMessage;
  'train-done': { round: number; numExamples: number; metrics: Record<string, number> };
  'evaluate-done': { round: number; loss: number; accuracy: number; numExamples: number };
  'server-error': ErrorMessage;
  disconnected: { reason: string };
  finished: FinishedMessage;
}

type Listener<T> = (payload: T) => void;

export class FedkitClient {
  private readonly socket: ClientSocket;
  private readonly options: FedkitClientOptions;
  private readonly transfers: TransferAssembler;
  private welcome: WelcomeMessage | null = null;
  /** Settles when the trainer has prepared the model of the latest welcome. */
  private ready: Promise<void> = Promise.resolve();
  private work: AbortController | null = null;
  /** Set by stop(): no rejoin after that. */
  private stopped = false;
  private rejoinTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners = new Map<keyof ClientEvents, Set<Listener<never>>>();
  private finishedResolve!: (msg: FinishedMessage) => void;
  private finishedReject!: (error: Error) => void;
  private uploadSeq = 0;
  private readonly random: RandomSource;
  private readonly identity: IdentityKeyPair;
  private done = false;
  private readonly secAgg: SecAggSession;
  /** Resolves when the server says training has finished; rejects on a fatal error. */
  readonly finished: Promise<FinishedMessage>;

  constructor(options: FedkitClientOptions) {
    this.options = options;
    this.socket = options.socket;
    this.random = options.random ?? cryptoRandomSource();
    this.identity = options.identity ?? createIdentityKeyPair(this.random);
    this.secAgg = new SecAggSession(this.random);
    this.transfers = new TransferAssembler(options.checksum === undefined ? {} : { checksum: options.checksum });
    this.finished = new Promise((resolve, reject) => {
      this.finishedResolve = resolve;
      this.finishedReject = reject;
    });
    // Avoid an unhandled rejection when nobody awaits `finished`.
    this.finished.catch(() => undefined);
    this.socket.on('connect', () => void this.join());
    this.socket.on('disconnect', (reason) => {
      this.work?.abort(new FedkitError('client-disconnected', `connection lost: ${reason}`));
      this.transfers.clear();
      // After `finished` the server closing the connection is expected, not a problem.
      this.log(this.done ? 'debug' : 'warn', 'disconnected', { reason });
      this.emit('disconnected', { reason });
    });
    this.socket.on('chunk', (payload) => this.guard('chunk', () => this.transfers.add(parseChunk(payload))));
    this.socket.on('train', (payload) => this.guard('train', () => void this.onTrain(parseMessage(trainSchema, payload, 'train'))));
    this.socket.on('evaluate', (payload) =>
      this.guard('evaluate', () => void this.onEvaluate(parseMessage(evaluateSchema, payload, 'evaluate'))),
    );
    this.socket.on('secagg', (payload) => this.guard('secagg', () => void this.onSecAgg(parseMessage(secAggRequestSchema, payload, 'secagg'))));
    this.socket.on('finished', (payload) =>
      this.guard('finished', () => {
        const msg = parseMessage(finishedSchema, payload, 'finished');
        this.done = true;
        this.emit('finished', msg);
        this.finishedResolve(msg);
      }),
    );
    this.socket.on('fedkit-error', (payload) =>
      this.guard('fedkit-error', () => {
        const msg = parseMessage(errorMessageSchema, payload, 'fedkit-error');
        this.log('warn', `server error: ${msg.code}: ${msg.message}`, { code: msg.code });
        this.emit('server-error', msg);
        if (msg.code === 'protocol-version-mismatch' || msg.code === 'duplicate-client-id') {
          this.finishedReject(new FedkitError(msg.code, msg.message));
        }
      }),
    );
  }

  /** Connects (and keeps reconnecting); resolves to the `finished` message. */
  start(): Promise<FinishedMessage> {
    this.socket.connect();
    return this.finished;
  }

  /** Aborts any local work and closes the connection for good. */
  stop(): void {
    this.stopped = true;
    if (this.rejoinTimer !== null) clearTimeout(this.rejoinTimer);
    this.rejoinTimer = null;
    this.work?.abort(new FedkitError('client-disconnected', 'the client was stopped'));
    this.socket.disconnect();
  }

  private get signsHello(): boolean {
    return this.options.signHello ?? this.options.identity !== undefined;
  }

  /** The server's welcome from the latest join, or null before the first. */
  get session(): WelcomeMessage | null {
    return this.welcome;
  }

  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  private emit<K extends keyof ClientEvents>(event: K, payload: ClientEvents[K]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as Listener<ClientEvents[K]>)(payload);
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
    this.options.log?.(level, message, { clientId: this.options.clientId, ...fields });
  }

  private guard(event: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.log('warn', `ignored a bad ${event} message: ${(error as Error).message}`);
    }
  }

  private async join(): Promise<void> {
    try {
      await this.sendHello();
    } catch (error) {
      // Nothing may escape `void this.join()` as an unhandled rejection. A dropped connection
      // joins again on its next `connect`; an unanswered hello on a live one (a server too
      // busy or restarting behind a proxy) would leave the client connected but never
      // joined, so it starts over on a fresh connection.
      this.log('warn', `join interrupted: ${(error as Error).message}`);
      if (this.socket.connected && !this.stopped) {
        this.socket.disconnect();
        this.rejoinTimer = setTimeout(() => {
          this.rejoinTimer = null;
          if (!this.stopped) this.socket.connect();
        }, this.options.helloRetryDelayMs ?? 1000);
      }
    }
  }

  private async sendHello(): Promise<void> {
    const { trainer } = this.options;
    const reply = (await this.socket.timeout(this.options.helloTimeoutMs ?? 30_000).emitWithAck('hello', {
      protocolVersion: PROTOCOL_VERSION,
      identityPublicKey: this.identity.publicKey,
      clientId: this.options.clientId,
      numExamples: trainer.numExamples,
      numEvalExamples: trainer.numEvalExamples,
      platform: this.options.platform,
      backend: this.options.backend,
      ...(this.options.backendReason === undefined ? {} : { backendReason: this.options.backendReason }),
      ...(this.options.authToken === undefined ? {} : { authToken: this.options.authToken }),
      ...(this.signsHello && this.socket.id !== undefined ? { authSignature: signHello(this.identity, this.socket.id, this.options.clientId) } : {}),
    })) as HelloReply;
    if (!reply.ok) {
      const error = new FedkitError(reply.error.code, reply.error.message);
      this.log('error', `join refused: ${reply.error.code}: ${reply.error.message}`);
      this.finishedReject(error);
      this.socket.disconnect();
      return;
    }
    try {
      // Chunks and a train request may follow the welcome at once: they wait for `ready`.
      const welcome = parseMessage(welcomeSchema, reply, 'welcome');
      this.welcome = welcome;
      this.ready = trainer.prepare(welcome.model);
      await this.ready;
      this.log('info', 'joined', { sessionId: welcome.sessionId });
      this.emit('joined', welcome);
    } catch (error) {
      this.log('error', `cannot prepare the model: ${(error as Error).message}`);
      this.finishedReject(error as Error);
      this.socket.disconnect();
    }
  }

  private takeWeights(transferId: string): Float32Array {
    if (this.welcome === null) throw new FedkitError('not-joined', 'weights arrived before the welcome');
    return decodeFloat32(this.transfers.take(transferId), this.welcome.model.layout, 'global weights');
  }

  private beginWork(deadlineMs: number): AbortController {
    this.work?.abort(new FedkitError('round-closed', 'a newer request replaced this one'));
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new FedkitError('deadline-exceeded', `the ${deadlineMs} ms deadline passed`)),
      deadlineMs,
    );
    controller.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    this.work = controller;
    return controller;
  }

  private async onTrain(msg: TrainMessage): Promise<void> {
    const controller = this.beginWork(msg.deadlineMs);
    let secAggInput: ReturnType<SecAggSession['begin']> | null = null;
    this.emit('train-start', msg);
    try {
      await this.ready;
      // Under secure aggregation the update is not uploaded: it becomes the round's masked input.
      if (this.welcome?.secureAggregation === true) secAggInput = this.secAgg.begin(msg.round);
      const global = this.takeWeights(msg.transferId);
      const train = applyMods(
        (request) => this.options.trainer.train(global, request.config as WireTrainConfig, { round: request.round, signal: controller.signal }),
        this.modsFor(msg.config),
      );
      const outcome = await train({ round: msg.round, config: msg.config }, { clientId: this.options.clientId });
      controller.signal.throwIfAborted();
      if (secAggInput !== null) {
        // Distributed DP sums equally weighted reports; otherwise the mean is example-weighted.
        const weight = msg.config[DP_CONFIG_KEYS.mode] === 'distributed' ? 1 : outcome.numExamples;
        // Under distributed adaptive clipping the noised clip indicator rides as one more coordinate.
        secAggInput.resolve({ update: secureSumVector(msg.round, msg.config, outcome), weight, outOfRange: 'clip' });
      } else {
        await this.upload(msg, outcome.update, outcome.numExamples, outcome.metrics);
      }
      this.emit('train-done', { round: msg.round, numExamples: outcome.numExamples, metrics: outcome.metrics });
    } catch (error) {
      secAggInput?.reject(error);
      const cause: unknown = controller.signal.aborted ? (controller.signal.reason ?? error) : error;
      // A local failure that is not already coded is a training failure, not a server bug.
      const wire = cause instanceof FedkitError ? cause.toWire() : { ...toWireError(cause), code: 'training-failed' as const };
      this.log('warn', `training round ${msg.round} failed: ${wire.message}`, { code: wire.code });
      if (this.socket.connected && wire.code !== 'client-disconnected' && wire.code !== 'round-closed') {
        this.socket.emit('train-error', { round: msg.round, error: wire }, () => undefined);
      }
    } finally {
      controller.abort();
      if (this.work === controller) this.work = null;
    }
  }

  /** The app's mods, then the DP mod the round's config asks for (innermost, next to training). */
  private modsFor(config: WireTrainConfig): TrainMod[] {
    const mode = config[DP_CONFIG_KEYS.mode];
    const random = this.options.random === undefined ? {} : { random: this.options.random };
    const dp = mode === 'local' ? [localDpMod(random)] : mode === 'distributed' ? [distributedDpMod(random)] : [];
    return [...(this.options.mods ?? []), ...dp];
  }

  private async upload(request: TrainMessage, update: Float32Array, numExamples: number, metrics: Record<string, number>): Promise<void> {
    if (this.welcome === null) throw new FedkitError('not-joined', 'cannot upload before joining');
    const round = request.round;
    const transferId = `u-${this.options.clientId}-${round}-${++this.uploadSeq}`;
    let bytes = encodeFloat32(update);
    let envelope: { nonce: Uint8Array; clientBoxPublicKey: Uint8Array; signature: Uint8Array } | undefined;
    if (this.welcome.encryptUpdates) {
      if (request.roundPublicKey === undefined) throw new FedkitError('invalid-message', `train for round ${round} carries no roundPublicKey, but this server encrypts updates`);
      const sealed = sealUpdate(bytes, { round, clientId: this.options.clientId, serverRoundKey: request.roundPublicKey, identity: this.identity, random: this.random });
      bytes = sealed.ciphertext;
      envelope = { nonce: sealed.nonce, clientBoxPublicKey: sealed.clientBoxPublicKey, signature: sealed.signature };
    }
    for (const chunk of splitTransfer(transferId, bytes, this.welcome.limits.maxChunkBytes, this.options.checksum)) this.socket.emit('chunk', chunk, noop);
    const reply = (await this.socket.emitWithAck('train-result', {
      round,
      // The version trained from: asynchronous servers check it against the one they sent.
      baseModelVersion: request.modelVersion,
      transferId,
      numExamples,
      layout: this.welcome.model.layout,
      metrics: finiteOnly(metrics),
      ...(envelope === undefined ? {} : { envelope }),
    })) as AckReply;
    if (!reply.ok) throw new FedkitError(reply.error.code, `the server rejected the update: ${reply.error.message}`);
  }

  /** Answers one secure-aggregation stage; a masked vector travels as a chunked transfer. */
  private async onSecAgg(msg: SecAggRequestMessage): Promise<void> {
    try {
      const reply = await this.secAgg.handle(msg);
      let payload: Record<string, unknown> = { ...reply };
      if (reply.kind === 'secagg-masked') {
        if (this.welcome === null) throw new FedkitError('not-joined', 'cannot upload before joining');
        const transferId = `s-${this.options.clientId}-${msg.round}-${++this.uploadSeq}`;
        for (const chunk of splitTransfer(transferId, reply.masked, this.welcome.limits.maxChunkBytes, this.options.checksum)) this.socket.emit('chunk', chunk, noop);
        const { masked: _masked, ...rest } = reply;
        payload = { ...rest, transferId };
      }
      const ack = (await this.socket.emitWithAck('secagg-reply', { round: msg.round, stage: msg.stage, ...packBinaryFields(payload) })) as AckReply;
      if (!ack.ok) throw new FedkitError(ack.error.code, `the server refused the secagg ${msg.stage} reply: ${ack.error.message}`);
    } catch (error) {
      this.log('warn', `secure aggregation ${msg.stage} in round ${msg.round} failed: ${(error as Error).message}`, {
        code: error instanceof FedkitError ? error.code : 'internal',
      });
    }
  }

  private async onEvaluate(msg: EvaluateMessage): Promise<void> {
    const controller = this.beginWork(msg.deadlineMs);
    try {
      await this.ready;
      const global = this.takeWeights(msg.transferId);
      const outcome = await this.options.trainer.evaluate(global, msg.config, { round: msg.round, signal: controller.signal });
      const reply = (await this.socket.emitWithAck('evaluate-result', { round: msg.round, ...outcome })) as AckReply;
      if (!reply.ok) throw new FedkitError(reply.error.code, reply.error.message);
      this.emit('evaluate-done', { round: msg.round, ...outcome });
    } catch (error) {
      this.log('warn', `evaluation for round ${msg.round} failed: ${(error as Error).message}`);
    } finally {
      controller.abort();
      if (this.work === controller) this.work = null;
    }
  }
}

function noop(): void {}

function finiteOnly(metrics: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (Number.isFinite(v)) out[k] = v;
  return out;
}
