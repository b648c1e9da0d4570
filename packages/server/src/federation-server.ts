/**
 * The aggregation server: express + socket.io on one HTTP server, and the round loop.
 *
 * A round: wait for `minClients`; sample max(minFit, ⌈C·available⌉) idle clients with the
 * injected random source; send them the global weights (chunked) and a train config; fold
 * each valid update into the strategy's accumulator as it arrives (or, with foldOrder
 * 'client-id', in client-id order when the round closes); close when all selected
 * clients have answered or failed, or at the deadline. With fewer than `minFit` good replies
 * the attempt fails, the model stays unchanged and the round is retried with a fresh sample.
 * Then federated and/or central evaluation, metrics, and the next round.
 */
import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join as joinPath } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { Server as SocketIoServer } from 'socket.io';
import {
  FedkitError,
  PROTOCOL_VERSION,
  assertFinite,
  assertSameLayout,
  cryptoRandomSource,
  crc32 as pureCrc32,
  decodeFloat32,
  encodeFloat32,
  isErrorCode,
  layoutSize,
  sampleWithoutReplacement,
  splitTransfer,
  type ClientToServerEvents,
  type Crc32,
  type EvaluateResultMessage,
  type FinishedMessage,
  type RandomSource,
  type SecAggReplyMessage,
  type ServerToClientEvents,
  type TrainErrorMessage,
  type TrainResultMessage,
  type WelcomeMessage,
} from '@fedkit/protocol';
import { createStrategy, type EvaluateReply, type StrategySpec, type Strategy, type TrainConfig, type TrainReply, type UpdateAccumulator } from '@fedkit/aggregation';
import { BOX_OVERHEAD_BYTES, createRoundKeyring, createSeenNonces, type RoundKeyring, type SeenNonces } from '@fedkit/privacy';
import type { SecAggResult } from '@fedkit/privacy/secagg';
import { ClientRegistry, type ClientInfo } from './client-registry.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptionsInput } from './config.js';
import { ClientConnection, type ConnectionHost } from './connection.js';
import express, { type Express } from 'express';
import { createHttpApi } from './http-api.js';
import { staticAssets, type StaticMounts } from './static-assets.js';
import { createLogger, type Logger } from './logger.js';
import type { EvaluationMetrics, RoundMetrics, ServerStage, ServerStatus } from './metrics.js';
import { validateModel, type ModelDefinition } from './model.js';
import { PrivacyLedger } from './privacy-ledger.js';
import { createFastUpdateOpener, type FastUpdateOpener } from './update-opener.js';
import { RoundPhase } from './round-phase.js';
import { SecAggRound, secAggParamsFor, validateSecAggSettings } from './secagg-round.js';
import type { Authenticator, HelloCredentials } from './auth/authenticator.js';
import { socketOriginGuard } from './auth/cors.js';
import { createAuthenticator, createWebServer } from './auth/server-security.js';
import { DurableState, type ResumedState } from './durable/durable-state.js';
import { KnownClients } from './durable/known-clients.js';
import type { ConnectionLimits } from './security-config.js';
import { TrainingControl, type ControlState } from './training-control.js';
import { AdminToken } from './admin-token.js';
import { AsyncEngine, type AsyncHost } from './async/async-engine.js';

export interface FederationServerOptions extends Omit<ServerOptionsInput, 'strategy'> {
  model: ModelDefinition;
  /**
   * The strategy: a Strategy object, or a name with parameters (`{ name: 'fedadam', ... }`,
   * see ServerOptions). @default { name: 'fedavg' }
   */
  strategy?: Strategy | StrategySpec;
  /** Source of client sampling and of DP noise. @default cryptoRandomSource() */
  random?: RandomSource;
  /**
   * Lets a seeded random source drive DP noise (simulations and tests only). Not a config
   * file option, so a production config cannot select it by accident. @default false
   */
  allowSeededRandom?: boolean;
  logger?: Logger;
  /** Server-side evaluation of the global model on a central test set, after each round. */
  centralEvaluate?: (weights: Float32Array, round: number) => Promise<EvaluationMetrics>;
  /**
   * Bearer token for the admin API (pause, resume, stop), at least 16 characters. Without it
   * (and without `adminTokenFile`) the admin endpoints answer 403 `admin-disabled`.
   */
  adminToken?: string;
  /** A file holding the admin token (surrounding whitespace ignored), read once at start. */
  adminTokenFile?: string;
  /** Extra HTTP routes (e.g. generated example data) mounted before the API. */
  configureHttp?: (app: Express) => void;
  /**
   * Static folders served before the API: URL prefix → folder, e.g. the browser SDK bundle,
   * tfjs `.wasm` files and example pages (`clientWebAssets()` of @fedkit/client-web/assets).
   */
  staticMounts?: StaticMounts;
}

export interface FederationSummary {
  reason: FinishedMessage['reason'];
  message: string;
  roundsCompleted: number;
  finalAccuracy: number | null;
  finalLoss: number | null;
  rounds: RoundMetrics[];
}

export interface FederationServerEvents {
  round: [RoundMetrics];
  stage: [ServerStage];
  'client-joined': [ClientInfo];
  'client-left': [string];
  rejected: [{ clientId: string | null; code: string; message: string }];
  finished: [FederationSummary];
  /** close() was called: long-lived HTTP streams (the dashboard feed) end now. */
  closing: [];
  /** Pause, resume or stop requested by an operator. */
  control: [ControlState];
}

const nativeCrc32: Crc32 | null = typeof zlibCrc32 === 'function' ? (bytes) => zlibCrc32(bytes) >>> 0 : null;

export class FederationServer extends EventEmitter<FederationServerEvents> implements ConnectionHost {
  readonly options: ResolvedServerOptions;
  readonly logger: Logger;
  readonly http: HttpServer;
  readonly io: SocketIoServer<ClientToServerEvents, ServerToClientEvents>;
  /** Operator pause / resume / stop, acted on at round boundaries. */
  readonly control = new TrainingControl();
  /** The admin API's token check; null when no admin token is configured. */
  readonly adminToken: AdminToken | null;
  private readonly model: ModelDefinition;
  private readonly strategy: Strategy;
  private readonly privacy: PrivacyLedger;
  private readonly random: RandomSource;
  private readonly registry = new ClientRegistry();
  private readonly connections = new Map<string, ClientConnection>();
  private readonly history: RoundMetrics[] = [];
  private readonly checksum: Crc32 = nativeCrc32 ?? pureCrc32;
  private readonly stopController = new AbortController();
  private readonly numParams: number;
  private global: Float32Array;
  private version = 0;
  private currentStage: ServerStage = 'starting';
  private currentRound = 0;
  private trainPhase: RoundPhase | null = null;
  /** With encryptUpdates: the opener (ready after listen), and the open round's keys and nonces. */
  private opener: FastUpdateOpener | null = null;
  private roundKeys: { keyring: RoundKeyring; seenNonces: SeenNonces } | null = null;
  private accumulator: UpdateAccumulator | null = null;
  /** Validated replies held until the round closes (foldOrder 'client-id' only). */
  private pendingReplies: TrainReply[] = [];
  private evaluatePhase: RoundPhase | null = null;
  /** With secureAggregation: the open round's SecAgg+ driver. */
  private secAggRound: SecAggRound | null = null;
  private evaluateReplies: EvaluateReply[] = [];
  private bytesIn = 0;
  private bytesOut = 0;
  private running: Promise<FederationSummary> | null = null;
  /** With mode 'async': the buffered asynchronous loop, once run() has started it. */
  private asyncEngine: AsyncEngine | null = null;
  private readonly startedAt = Date.now();
  /** Every client ever joined (persisted; pins identity keys under auth). */
  private readonly knownClients = new KnownClients();
  /** With dataDir: the snapshot committed after each round, and where this run resumed from. */
  private readonly durable: DurableState | null;
  readonly resumedFrom: ResumedState | null;
  private readonly authenticator: Authenticator | null;
  /** The latest training phase, kept after it closes to refuse its late replies by name. */
  private lastTrainPhase: RoundPhase | null = null;

  constructor(options: FederationServerOptions) {
    super();
    const { model, strategy, random, logger, centralEvaluate, configureHttp, staticMounts, allowSeededRandom, adminToken, adminTokenFile, ...rest } = options;
    const strategyObject = isStrategyObject(strategy) ? strategy : null;
    this.options = resolveServerOptions(strategyObject === null && strategy !== undefined ? { ...rest, strategy } : rest);
    validateModel(model);
    this.model = model;
    this.numParams = layoutSize(model.layout);
    this.global = model.weights.slice();
    this.random = random ?? cryptoRandomSource();
    this.privacy = new PrivacyLedger(this.options.privacy, strategyObject ?? createStrategy(this.options.strategy), this.random, { allowSeededRandom: allowSeededRandom === true });
    const secAgg = this.options.secureAggregation;
    // The masked vector is the update plus, under distributed adaptive clipping, the clipped count.
    if (secAgg?.enabled === true) validateSecAggSettings(secAgg, Math.max(2, this.options.sampling.minFit), this.secureVectorLength);
    this.strategy = this.privacy.strategy;
    this.logger = logger ?? createLogger();
    this.durable = this.options.dataDir === undefined ? null : new DurableState(joinPath(this.options.dataDir, 'state'), { layout: model.layout, strategy: this.strategy, privacy: this.privacy, knownClients: this.knownClients });
    this.resumedFrom = this.durable?.restore() ?? null;
    if (this.resumedFrom !== null) this.resume(this.resumedFrom);
    this.authenticator = createAuthenticator(this.options, this.knownClients);
    this.centralEvaluateFn = centralEvaluate;
    this.adminToken = AdminToken.resolve({ adminToken, adminTokenFile });
    this.control.onChange((state) => this.emit('control', state));
    // Static files and the app's routes first, so the API's JSON 404 does not shadow them.
    const app = express().disable('x-powered-by');
    if (staticMounts !== undefined) app.use(staticAssets(staticMounts));
    configureHttp?.(app);
    app.use(createHttpApi(this));
    this.http = createWebServer(app, this.options);
    this.io = new SocketIoServer(this.http, {
      ...(this.options.cors === undefined ? {} : { cors: { origin: this.options.cors.origins.includes('*') ? true : this.options.cors.origins }, allowRequest: socketOriginGuard(this.options.cors) }),
      // One chunk plus the message envelope; larger messages are refused by socket.io.
      maxHttpBufferSize: this.options.transfer.maxChunkBytes + 64 * 1024,
      serveClient: false,
    });
    this.io.on('connection', (socket) => {
      // The connection registers its own socket handlers; it lives as long as the socket.
      new ClientConnection(socket, this);
      this.logger.debug({ socketId: socket.id }, 'socket connected');
    });
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Listens on `port` (0 = any free port); resolves to the bound port. */
  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    if (this.options.encryptUpdates) this.opener ??= await createFastUpdateOpener();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    return (this.http.address() as AddressInfo).port;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** Runs the round loop until training completes or is stopped. Idempotent. */
  run(): Promise<FederationSummary> {
    this.running ??= this.options.mode === 'async' ? this.runAsync() : this.loop();
    return this.running;
  }

  /** Stops training, tells clients, closes sockets and the HTTP server. */
  async close(reason: FinishedMessage['reason'] = 'server-shutting-down'): Promise<void> {
    if (!this.stopController.signal.aborted) {
      this.emit('closing');
      this.stopReason = reason;
      this.stopController.abort();
      this.trainPhase?.close('server-shutting-down', 'the server is shutting down');
      this.evaluatePhase?.close('server-shutting-down', 'the server is shutting down');
    }
    if (this.running) await this.running;
    await new Promise<void>((resolve) => {
      this.io.close(() => resolve());
    });
    this.http.closeAllConnections?.();
  }

  private stopReason: FinishedMessage['reason'] = 'stopped';

  /** Takes over a restored snapshot: model, version and round history. */
  private resume(state: ResumedState): void {
    this.global = state.weights;
    this.version = state.modelVersion;
    this.history.push(...state.history);
    this.currentRound = state.round;
    this.logger.info({ round: state.round, modelVersion: state.modelVersion, modelSha256: state.modelSha256 }, `resumed from ${this.options.dataDir} after round ${state.round}`);
  }

  // ---- read-only views ---------------------------------------------------------------------

  get stage(): ServerStage {
    return this.currentStage;
  }

  get modelVersion(): number {
    return this.version;
  }

  currentWeights(): Float32Array {
    return this.global;
  }

  modelDefinition(): ModelDefinition {
    return { ...this.model, weights: this.global };
  }

  roundHistory(): RoundMetrics[] {
    return this.history.slice();
  }

  status(): ServerStatus {
    const last = this.history[this.history.length - 1] ?? null;
    return {
      protocolVersion: PROTOCOL_VERSION,
      stage: this.currentStage,
      ...this.control.state(),
      round: this.currentRound,
      roundsCompleted: this.history.filter((r) => r.status === 'completed').length,
      roundsPlanned: this.options.rounds,
      modelVersion: this.version,
      numParams: this.numParams,
      strategy: this.strategy.name,
      privacy: this.privacy.snapshot(),
      clients: {
        ...this.registry.summary(),
        list: this.registry.all().map((c) => ({
          clientId: c.clientId,
          platform: c.platform,
          backend: c.backend,
          numExamples: c.numExamples,
          busy: c.busyWith !== null,
        })),
      },
      lastRound: last,
      uptimeMs: Date.now() - this.startedAt,
    };
  }

  // ---- ConnectionHost ----------------------------------------------------------------------

  transferLimits(): { maxChunkBytes: number; maxTransferBytes: number; timeoutMs: number; checksum: Crc32 } {
    return {
      maxChunkBytes: this.options.transfer.maxChunkBytes,
      // An update is exactly the model's size.
      maxTransferBytes: this.maxUpdateBytes(),
      timeoutMs: this.options.transfer.timeoutMs,
      checksum: this.checksum,
    };
  }

  connectionLimits(): ConnectionLimits {
    return this.options.connectionLimits;
  }

  join(info: ClientInfo, connection: ClientConnection, credentials: Pick<HelloCredentials, 'authToken' | 'authSignature'> = {}): WelcomeMessage {
    if (this.stopController.signal.aborted) throw new FedkitError('server-shutting-down', 'the server is shutting down');
    this.authenticator?.check({ ...credentials, clientId: info.clientId, sessionId: connection.socket.id, ...(info.identityPublicKey === undefined ? {} : { identityPublicKey: info.identityPublicKey }) });
    if (this.options.encryptUpdates && info.identityPublicKey === undefined) {
      throw new FedkitError('invalid-message', 'hello: field "identityPublicKey": this server requires encrypted updates; send your 32-byte Ed25519 public key');
    }
    const previous = this.connections.get(info.clientId);
    if (previous !== undefined && previous !== connection) {
      // The newest session of a client id wins (a reconnect the server had not noticed yet).
      this.logger.info({ clientId: info.clientId }, 'client id reconnected; dropping the older session');
      this.leave(info.clientId, previous);
      previous.clientId = null;
      previous.reject({ code: 'duplicate-client-id', message: `client id ${info.clientId} connected again elsewhere` });
    }
    this.connections.set(info.clientId, connection);
    this.registry.add(info);
    this.knownClients.note(info);
    this.logger.info({ clientId: info.clientId, platform: info.platform, backend: info.backend, numExamples: info.numExamples }, 'client joined');
    this.emit('client-joined', info);
    return {
      ok: true,
      protocolVersion: PROTOCOL_VERSION,
      sessionId: connection.socket.id,
      model: { topology: this.model.topology, layout: this.model.layout.map((t) => ({ ...t })), numParams: this.numParams },
      limits: {
        maxChunkBytes: this.options.transfer.maxChunkBytes,
        maxTransferBytes: this.maxUpdateBytes(),
        transferTimeoutMs: this.options.transfer.timeoutMs,
      },
      encryptUpdates: this.options.encryptUpdates,
      secureAggregation: this.secureAggregationEnabled,
    };
  }

  leave(clientId: string, connection: ClientConnection): void {
    if (this.connections.get(clientId) !== connection) return;
    this.connections.delete(clientId);
    this.registry.remove(clientId);
    this.trainPhase?.markFailed(clientId, 'client-disconnected', 'the client disconnected during the round');
    this.secAggRound?.drop(clientId, 'client-disconnected', 'the client disconnected during the round');
    this.evaluatePhase?.markFailed(clientId, 'client-disconnected', 'the client disconnected during evaluation');
    this.asyncEngine?.onLeave(clientId);
    this.emit('client-left', clientId);
  }

  onBytesIn(bytes: number): void {
    this.bytesIn += bytes;
  }

  onTrainResult(clientId: string, msg: TrainResultMessage, connection: ClientConnection): void {
    if (this.asyncEngine !== null) return this.asyncEngine.onTrainResult(clientId, msg, connection);
    if (this.secureAggregationEnabled) {
      // The server must never hold an update in the clear: only masked input is accepted.
      connection.transfers.drop(msg.transferId);
      throw new FedkitError('invalid-message', 'train-result: this server runs secure aggregation; answer the secagg requests instead');
    }
    const phase = this.trainPhase;
    const late = this.lastTrainPhase?.lateReplyError(clientId, msg.round) ?? null;
    if (late !== null) {
      connection.transfers.drop(msg.transferId);
      this.noteRejection(clientId, late);
      throw late;
    }
    if (phase === null) {
      connection.transfers.drop(msg.transferId);
      throw new FedkitError('round-not-open', `no training round is open (round ${msg.round} was sent)`);
    }
    try {
      phase.checkCanReply(clientId, msg.round);
    } catch (error) {
      connection.transfers.drop(msg.transferId);
      this.noteRejection(clientId, error);
      throw error;
    }
    try {
      const received = connection.transfers.take(msg.transferId);
      assertSameLayout(this.model.layout, msg.layout);
      const bytes = this.options.encryptUpdates ? this.openSealedUpdate(clientId, msg, received) : received;
      const update = decodeFloat32(bytes, this.model.layout);
      assertFinite(update, this.model.layout);
      const reply: TrainReply = { clientId, numExamples: msg.numExamples, update, metrics: msg.metrics };
      if (this.options.foldOrder === 'client-id') this.pendingReplies.push(reply);
      else this.accumulator!.add(reply);
      phase.markAnswered(clientId);
    } catch (error) {
      // A bad update fails this client for the round; it never reaches the model.
      const wire = error instanceof FedkitError ? error : new FedkitError('invalid-message', (error as Error).message);
      phase.markFailed(clientId, wire.code, wire.message);
      this.noteRejection(clientId, wire);
      throw wire;
    }
  }

  onTrainError(clientId: string, msg: TrainErrorMessage): void {
    if (this.asyncEngine !== null) return this.asyncEngine.onTrainError(clientId, msg);
    const phase = this.trainPhase;
    if (phase === null) throw new FedkitError('round-not-open', `no training round is open`);
    phase.checkCanReply(clientId, msg.round);
    const code = isErrorCode(msg.error.code) ? msg.error.code : 'client-error';
    phase.markFailed(clientId, code, `client reported: ${msg.error.message}`);
    this.secAggRound?.drop(clientId, code, `client reported: ${msg.error.message}`);
  }

  onSecAggReply(clientId: string, msg: SecAggReplyMessage, connection: ClientConnection): void {
    const secAgg = this.secAggRound;
    const drop = (): void => {
      const transferId = (msg.payload as { transferId?: unknown } | null)?.transferId;
      if (typeof transferId === 'string') connection.transfers.drop(transferId);
    };
    if (secAgg === null || this.trainPhase === null) {
      drop();
      throw new FedkitError('round-not-open', `no secure-aggregation round is open (round ${msg.round} was sent)`);
    }
    try {
      secAgg.onReply(clientId, msg, (transferId) => connection.transfers.take(transferId));
    } catch (error) {
      drop();
      this.noteRejection(clientId, error);
      throw error;
    }
  }

  onEvaluateResult(clientId: string, msg: EvaluateResultMessage): void {
    if (this.asyncEngine !== null) return this.asyncEngine.onEvaluateResult(clientId, msg);
    const phase = this.evaluatePhase;
    if (phase === null) throw new FedkitError('round-not-open', `no evaluation is open`);
    phase.checkCanReply(clientId, msg.round);
    this.evaluateReplies.push({ clientId, numExamples: msg.numExamples, loss: msg.loss, accuracy: msg.accuracy });
    phase.markAnswered(clientId);
  }

  private get secureAggregationEnabled(): boolean {
    return this.options.secureAggregation?.enabled === true;
  }

  /**
   * The largest update transfer accepted: the model's bytes, plus the box tag when sealed,
   * or the weight word of a masked secure-aggregation vector.
   */
  private maxUpdateBytes(): number {
    // A masked vector is longer than an update: the weight word and the DP strategy's extra coordinates.
    return this.numParams * 4 + (this.options.encryptUpdates ? BOX_OVERHEAD_BYTES : 0) + (this.secureAggregationEnabled ? 4 * (1 + this.privacy.secureSumExtraCoordinates) : 0);
  }

  /** Verifies (round, sender, signature, nonce) and only then decrypts a sealed update. */
  private openSealedUpdate(clientId: string, msg: TrainResultMessage, ciphertext: Uint8Array): Uint8Array {
    if (msg.envelope === undefined) {
      throw new FedkitError('invalid-message', 'train-result: field "envelope": this server requires encrypted updates');
    }
    const identity = this.registry.get(clientId)?.identityPublicKey;
    if (this.opener === null || this.roundKeys === null || identity === undefined) {
      throw new FedkitError('internal', 'encrypted updates are not set up for this round');
    }
    return this.opener.open(
      { round: msg.round, clientId, ciphertext, ...msg.envelope },
      { round: msg.round, expectedClientId: clientId, clientIdentityKey: identity, keyring: this.roundKeys.keyring, seenNonces: this.roundKeys.seenNonces },
    );
  }

  private noteRejection(clientId: string, error: unknown): void {
    const code = error instanceof FedkitError ? error.code : 'internal';
    const message = error instanceof Error ? error.message : String(error);
    this.emit('rejected', { clientId, code, message });
  }

  // ---- the round loop ----------------------------------------------------------------------

  private setStage(stage: ServerStage): void {
    if (this.currentStage === stage) return;
    this.currentStage = stage;
    this.emit('stage', stage);
  }

  private async loop(): Promise<FederationSummary> {
    const signal = this.stopController.signal;
    let round = (this.resumedFrom?.round ?? 0) + 1;
    let attempt = 1;
    let finish: { reason: FinishedMessage['reason']; message: string } | null =
      round > this.options.rounds ? { reason: 'completed', message: `already completed ${round - 1} rounds (resumed from ${this.options.dataDir})` } : null;
    while (finish === null) {
      if (signal.aborted) {
        finish = { reason: this.stopReason, message: 'training was stopped' };
        break;
      }
      if (this.control.stopRequested) {
        finish = { reason: 'stopped', message: `stopped by an operator before round ${round}` };
        break;
      }
      await this.control.whilePaused(signal, () => this.setStage('paused'));
      if (signal.aborted || this.control.stopRequested) continue;
      this.currentRound = round;
      const ready = await this.waitForClients(AbortSignal.any([signal, this.control.stopSignal]));
      if (!ready || this.control.paused) continue;
      const refusal = this.privacy.refusal(this.registry.idle().length);
      if (refusal !== null) {
        finish = { reason: 'budget-exhausted', message: `stopped before round ${round}: ${refusal}` };
        break;
      }
      const metrics = await this.trainRound(round, attempt, signal);
      if (metrics.status === 'completed') {
        await this.evaluateRound(round, metrics, signal);
        this.record(metrics);
        const target = this.options.targetAccuracy;
        if (target !== undefined && metrics.accuracy !== undefined && metrics.accuracy >= target) {
          finish = { reason: 'completed', message: `reached target accuracy ${target} in round ${round}` };
        } else if (round >= this.options.rounds) {
          finish = { reason: 'completed', message: `completed ${round} rounds` };
        }
        round++;
        attempt = 1;
      } else {
        this.record(metrics);
        if (signal.aborted) continue;
        if (attempt >= this.options.maxRoundAttempts) {
          finish = { reason: 'stopped', message: `round ${round} failed ${attempt} times: ${metrics.reason}` };
        }
        attempt++;
      }
    }
    return this.finish(finish);
  }

  /** Mode 'async': model versions instead of rounds (async/async-engine.ts). */
  private async runAsync(): Promise<FederationSummary> {
    const host: AsyncHost = {
      options: this.options,
      logger: this.logger,
      random: this.random,
      registry: this.registry,
      strategy: this.strategy,
      privacy: this.privacy,
      control: this.control,
      layout: this.model.layout,
      checksum: this.checksum,
      start: { weights: this.global, version: this.version },
      connection: (clientId) => this.connections.get(clientId),
      trainConfig: (version) => this.trainConfigFor(version),
      publish: (version, weights, metrics) => {
        this.global = weights;
        this.version = this.currentRound = version;
        // As in trainRound: committed with its privacy charge before anyone can see the model.
        this.durable?.commit({ round: version, modelVersion: version, weights, history: [...this.history, metrics] });
      },
      centralEvaluate: (weights, version) => this.centralEvaluateFn?.(weights, version) ?? null,
      record: (metrics) => this.record(metrics),
      setStage: (stage) => this.setStage(stage),
      rejected: (clientId, error) => this.noteRejection(clientId, error),
    };
    this.asyncEngine = new AsyncEngine(host);
    const finish = await this.asyncEngine.run(this.stopController.signal);
    return this.finish(finish ?? { reason: this.stopReason, message: 'training was stopped' });
  }

  private finish(finish: { reason: FinishedMessage['reason']; message: string }): FederationSummary {
    this.setStage(finish.reason === 'completed' ? 'finished' : 'stopped');
    const completed = this.history.filter((r) => r.status === 'completed');
    const last = completed[completed.length - 1];
    this.io.emit('finished', { reason: finish.reason, round: last?.round ?? 0, message: finish.message });
    this.logger.info({ reason: finish.reason }, finish.message);
    const summary: FederationSummary = {
      ...finish,
      roundsCompleted: completed.length,
      finalAccuracy: last?.accuracy ?? null,
      finalLoss: last?.loss ?? null,
      rounds: this.history.slice(),
    };
    this.emit('finished', summary);
    return summary;
  }

  private record(metrics: RoundMetrics): void {
    this.history.push(metrics);
    this.logger.info(
      { round: metrics.round, attempt: metrics.attempt, status: metrics.status, replied: metrics.replied, accuracy: metrics.accuracy },
      `round ${metrics.round} ${metrics.status}`,
    );
    this.emit('round', metrics);
  }

  /** Resolves true once enough idle clients are joined; false when stopped. */
  private async waitForClients(signal: AbortSignal): Promise<boolean> {
    const needed = Math.max(this.options.minClients, this.options.sampling.minFit);
    while (!signal.aborted && (this.registry.size < this.options.minClients || this.registry.idle().length < needed)) {
      this.setStage('waiting-for-clients');
      await this.registry.changed(signal);
    }
    return !signal.aborted;
  }

  private trainConfigFor(round: number): TrainConfig {
    const t = this.options.train;
    return this.privacy.trainConfig({
      epochs: t.epochs,
      batchSize: t.batchSize,
      learningRate: t.learningRate * t.learningRateDecay ** (round - 1),
    });
  }

  private async trainRound(round: number, attempt: number, signal: AbortSignal): Promise<RoundMetrics> {
    const startedAt = Date.now();
    const idle = this.registry.idle();
    if (this.options.foldOrder === 'client-id') idle.sort((a, b) => compareIds(a.clientId, b.clientId));
    const wanted = Math.max(this.options.sampling.minFit, Math.ceil(this.options.sampling.fraction * idle.length));
    // Over-selection samples more than the m wanted and closes on the first m replies.
    const selected = sampleWithoutReplacement(this.random, idle, Math.min(Math.ceil(wanted * this.options.sampling.overSelection), idle.length));
    const config = this.strategy.configureTrain(round, this.trainConfigFor(round));
    const base = this.emptyMetrics(round, attempt, startedAt, selected.length);
    if (config === null) return { ...base, status: 'failed', reason: 'the strategy skipped training this round' };

    this.setStage('training');
    this.bytesIn = 0;
    this.bytesOut = 0;
    const tag = `r${round}a${attempt}`;
    for (const client of selected) client.busyWith = tag;
    this.accumulator = this.strategy.beginTrain(round, this.global, this.model.layout);
    const phase = new RoundPhase('train', round, new Set(selected.map((c) => c.clientId)), this.options.roundDeadlineMs, Math.min(wanted, selected.length));
    this.trainPhase = phase;
    this.lastTrainPhase = phase;
    // A fresh key pair per round: a leaked round key exposes that round only.
    const roundKeys = this.options.encryptUpdates ? { keyring: createRoundKeyring(round, cryptoRandomSource()), seenNonces: createSeenNonces(round) } : null;
    this.roundKeys = roundKeys;
    const sendStart = Date.now();
    this.bytesOut += this.sendGlobalWeights(selected, phase, tag, (connection, transferId) =>
      connection.socket.emit('train', {
        round,
        modelVersion: this.version,
        transferId,
        deadlineMs: phase.remainingMs(),
        config,
        ...(roundKeys === null ? {} : { roundPublicKey: roundKeys.keyring.publicKey }),
      }),
    );
    let secAggOutcome: Awaited<ReturnType<FederationServer['runSecAgg']>> | null = null;
    if (this.secureAggregationEnabled) secAggOutcome = await this.runSecAgg(round, selected, phase, signal);
    else await phase.done;
    const trainPhaseMs = Date.now() - sendStart;
    this.trainPhase = null;
    roundKeys?.keyring.destroy();
    this.roundKeys = null;
    for (const client of selected) if (client.busyWith === tag) client.busyWith = null;
    // Under secure aggregation the phase only gates replies; runSecAgg logged the real failures.
    if (secAggOutcome === null) for (const f of phase.failures) this.logger.warn({ round, clientId: f.clientId, code: f.code }, f.message);

    const accumulator = this.accumulator;
    this.accumulator = null;
    const folded = secAggOutcome === null ? this.foldPending(accumulator, phase) : this.foldSecAgg(accumulator, secAggOutcome);
    const metrics: RoundMetrics = {
      ...base,
      replied: folded,
      failed: secAggOutcome === null ? phase.failures.slice() : secAggOutcome.failures,
      trainPhaseMs,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
    if (signal.aborted) return { ...metrics, status: 'failed', reason: 'the server is shutting down', durationMs: Date.now() - startedAt };
    if (secAggOutcome?.error !== undefined) {
      return { ...metrics, status: 'failed', reason: secAggOutcome.error, durationMs: Date.now() - startedAt };
    }
    if (folded < this.options.sampling.minFit) {
      return {
        ...metrics,
        status: 'failed',
        reason: `${folded} good replies, fewer than minFit ${this.options.sampling.minFit}`,
        durationMs: Date.now() - startedAt,
      };
    }
    this.setStage('aggregating');
    const aggregateStart = Date.now();
    const result = this.strategy.aggregateTrain(round, accumulator, phase.failures);
    const aggregateMs = Date.now() - aggregateStart;
    if (result === null) {
      return { ...metrics, status: 'failed', reason: 'the strategy could not aggregate', aggregateMs, durationMs: Date.now() - startedAt };
    }
    this.global = result.weights;
    this.version++;
    this.privacy.charge();
    const completed: RoundMetrics = { ...metrics, modelVersion: this.version, aggregateMs, train: result.metrics, durationMs: Date.now() - startedAt };
    if (this.options.privacy.mode !== 'none') completed.privacy = this.privacy.snapshot();
    // Committed before anything can see the new model: see durable/durable-state.ts.
    this.durable?.commit({ round, modelVersion: this.version, weights: this.global, history: [...this.history, completed] });
    return completed;
  }

  /**
   * Runs SecAgg+ over the sampled clients while they train (each answers setup once its
   * update is ready). Never throws: an aborted round comes back as `error`.
   */
  private async runSecAgg(
    round: number,
    selected: readonly ClientInfo[],
    phase: RoundPhase,
    signal: AbortSignal,
  ): Promise<{ result: SecAggResult | null; error?: string; failures: RoundMetrics['failed']; clientIds: readonly string[] }> {
    const clientIds = selected.map((c) => c.clientId).sort(compareIds);
    let params;
    try {
      params = secAggParamsFor(this.options.secureAggregation!, clientIds.length, this.secureVectorLength);
    } catch (error) {
      phase.close('round-closed', 'secure aggregation could not start');
      return { result: null, error: `secure aggregation cannot run with ${clientIds.length} clients: ${(error as Error).message}`, failures: [], clientIds };
    }
    const secAgg = new SecAggRound({
      round,
      clientIds,
      params,
      roundDeadlineMs: this.options.roundDeadlineMs,
      random: this.random,
      send: (clientId, message) => {
        const connection = this.connections.get(clientId);
        if (connection === undefined) return false;
        connection.socket.emit('secagg', message);
        return true;
      },
    });
    this.secAggRound = secAgg;
    // Clients that failed before the round started (gone before the train request).
    for (const f of phase.failures) secAgg.drop(f.clientId, f.code, f.message);
    try {
      const result = await secAgg.run(signal);
      this.logger.info({ round, contributors: result.contributors.length, dropped: result.dropped.length }, 'secure aggregation completed');
      return { result, failures: secAgg.failures.slice(), clientIds };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const code = error instanceof FedkitError ? error.code : 'internal';
      if (code === 'internal') this.logger.error({ err: error, round }, 'secure aggregation failed');
      else this.logger.warn({ round, code }, `secure aggregation aborted: ${message}`);
      return { result: null, error: `secure aggregation aborted: ${message}`, failures: secAgg.failures.slice(), clientIds };
    } finally {
      this.secAggRound = null;
      phase.close('round-closed', 'the secure-aggregation round ended');
      for (const f of secAgg.failures) this.logger.warn({ round, clientId: f.clientId, code: f.code }, f.message);
    }
  }

  /** Floats each client masks: the model's, plus the DP strategy's extra coordinates. */
  private get secureVectorLength(): number {
    return this.numParams + this.privacy.secureSumExtraCoordinates;
  }

  /**
   * Hands the unmasked weighted mean to the strategy: under distributed DP to the DP
   * strategy as a secure sum (equal weights; it splits off the clipped count under adaptive
   * clipping), otherwise as one synthetic reply weighted by the total weight (FedAvg then
   * gives exactly that mean). Returns the number of contributing clients.
   */
  private foldSecAgg(accumulator: UpdateAccumulator, outcome: { result: SecAggResult | null }): number {
    const result = outcome.result;
    if (result === null) return 0;
    const contributors = result.contributors.length;
    if (this.options.privacy.mode === 'distributed') this.privacy.foldSecureSum(accumulator, { mean: result.weightedMean, contributors });
    else accumulator.add({ clientId: 'secagg-sum', numExamples: Math.max(1, Math.round(result.totalWeight)), update: result.weightedMean, metrics: {} });
    return contributors;
  }

  /**
   * With foldOrder 'client-id', folds the buffered replies sorted by client id; a reply the
   * strategy refuses becomes a failure of that client. Returns the number of good replies.
   */
  private foldPending(accumulator: UpdateAccumulator, phase: RoundPhase): number {
    const pending = this.pendingReplies;
    this.pendingReplies = [];
    if (this.options.foldOrder !== 'client-id') return phase.repliedCount;
    let folded = 0;
    pending.sort((a, b) => compareIds(a.clientId, b.clientId));
    for (const reply of pending) {
      try {
        accumulator.add(reply);
        folded++;
      } catch (error) {
        const wire = error instanceof FedkitError ? error : new FedkitError('invalid-message', (error as Error).message);
        phase.failures.push({ clientId: reply.clientId, code: wire.code, message: wire.message });
        this.noteRejection(reply.clientId, wire);
      }
    }
    return folded;
  }

  private async evaluateRound(round: number, metrics: RoundMetrics, signal: AbortSignal): Promise<void> {
    const every = this.options.evaluate.every;
    const federated = every > 0 && round % every === 0;
    const central = this.centralEvaluateFn !== undefined;
    if (!federated && !central) return;
    this.setStage('evaluating');
    const start = Date.now();
    const [fed, cen] = await Promise.all([
      federated ? this.federatedEvaluation(round, signal) : Promise.resolve(null),
      central ? this.runCentralEvaluation(round) : Promise.resolve(null),
    ]);
    metrics.evaluateMs = Date.now() - start;
    if (fed) metrics.federatedEvaluation = fed;
    if (cen) metrics.centralEvaluation = cen;
    const chosen = cen ?? fed;
    if (chosen) {
      metrics.accuracy = chosen.accuracy;
      metrics.loss = chosen.loss;
    }
  }

  private centralEvaluateFn: FederationServerOptions['centralEvaluate'];

  /** Sets the server-side evaluation (also settable through the constructor options). */
  setCentralEvaluation(fn: FederationServerOptions['centralEvaluate']): void {
    this.centralEvaluateFn = fn;
  }

  private async runCentralEvaluation(round: number): Promise<EvaluationMetrics | null> {
    try {
      return await this.centralEvaluateFn!(this.global, round);
    } catch (error) {
      this.logger.error({ err: error, round }, 'central evaluation failed');
      return null;
    }
  }

  private async federatedEvaluation(round: number, signal: AbortSignal): Promise<EvaluationMetrics | null> {
    const config = this.strategy.configureEvaluate(round, { batchSize: this.options.evaluate.batchSize });
    const eligible = this.registry.idle().filter((c) => c.numEvalExamples > 0);
    if (config === null || eligible.length === 0 || signal.aborted) return null;
    const count = Math.max(1, Math.ceil(this.options.evaluate.fraction * eligible.length));
    const selected = sampleWithoutReplacement(this.random, eligible, count);
    const tag = `e${round}`;
    for (const client of selected) client.busyWith = tag;
    this.evaluateReplies = [];
    const phase = new RoundPhase('evaluate', round, new Set(selected.map((c) => c.clientId)), this.options.evaluate.deadlineMs);
    this.evaluatePhase = phase;
    this.sendGlobalWeights(selected, phase, tag, (connection, transferId) =>
      connection.socket.emit('evaluate', { round, modelVersion: this.version, transferId, deadlineMs: phase.remainingMs(), config }),
    );
    await phase.done;
    this.evaluatePhase = null;
    for (const client of selected) if (client.busyWith === tag) client.busyWith = null;
    const summary = this.strategy.aggregateEvaluate(round, this.evaluateReplies, phase.failures);
    return summary === null ? null : { loss: summary.loss, accuracy: summary.accuracy, numExamples: summary.numExamples, numClients: summary.numClients };
  }

  /**
   * Sends the global weights as one chunked transfer (encoded once) to each selected client,
   * then the request that uses them; a client already gone fails the phase. Returns the
   * payload bytes sent.
   */
  private sendGlobalWeights(
    selected: readonly ClientInfo[],
    phase: RoundPhase,
    tag: string,
    request: (connection: ClientConnection, transferId: string) => void,
  ): number {
    const transferId = `w-${tag}`;
    const chunks = splitTransfer(transferId, encodeFloat32(this.global), this.options.transfer.maxChunkBytes, this.checksum);
    let bytes = 0;
    for (const client of selected) {
      const connection = this.connections.get(client.clientId);
      if (connection === undefined) {
        phase.markFailed(client.clientId, 'client-disconnected', `the client left before the ${phase.kind} request was sent`);
        continue;
      }
      for (const chunk of chunks) connection.socket.emit('chunk', chunk);
      bytes += encodedBytes(chunks);
      request(connection, transferId);
    }
    return bytes;
  }

  private emptyMetrics(round: number, attempt: number, startedAt: number, selected: number): RoundMetrics {
    return {
      round,
      attempt,
      status: 'completed',
      modelVersion: this.version,
      selected,
      replied: 0,
      failed: [],
      startedAt: new Date(startedAt).toISOString(),
      durationMs: 0,
      trainPhaseMs: 0,
      aggregateMs: 0,
      evaluateMs: 0,
      bytesIn: 0,
      bytesOut: 0,
      train: {},
    };
  }
}

/** Plain code-unit order: the same on every machine, unlike localeCompare. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isStrategyObject(value: unknown): value is Strategy {
  return typeof value === 'object' && value !== null && typeof (value as Strategy).beginTrain === 'function';
}

/** Chunk payload bytes of a transfer. */
function encodedBytes(chunks: readonly { data: Uint8Array }[]): number {
  let n = 0;
  for (const c of chunks) n += c.data.byteLength;
  return n;
}
