/**
 * The aggregation server's facade: wires express + socket.io on one HTTP server to the
 * parts that do the work, and holds the public API (listen, run, close, read-only views).
 *
 * Where things live:
 * - client-handlers.ts: join / leave and the routing of every client reply;
 * - sync/round-loop.ts: the synchronous loop (wait for clients, stop / pause, retries);
 * - sync/train-phase.ts, sync/secagg-phase.ts, sync/evaluate-phase.ts: one round's phases;
 * - async/async-engine.ts: mode 'async' (model versions instead of rounds);
 * - durable/, auth/, dashboard/, http-api.ts, admin-api.ts: state on disk, security, HTTP.
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
  cryptoRandomSource,
  crc32 as pureCrc32,
  layoutSize,
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
import { createStrategy, type Strategy } from '@fedkit/aggregation';
import { ClientRegistry, type ClientInfo } from './client-registry.js';
import { resolveServerOptions, type ResolvedServerOptions } from './config.js';
import { ClientConnection, type ConnectionHost } from './connection.js';
import express from 'express';
import { createHttpApi } from './http-api.js';
import { staticAssets } from './static-assets.js';
import { createLogger, type Logger } from './logger.js';
import type { RoundMetrics, ServerStage, ServerStatus } from './metrics.js';
import { validateModel, type ModelDefinition } from './model.js';
import { PrivacyLedger } from './privacy-ledger.js';
import { createFastUpdateOpener, type FastUpdateOpener } from './update-opener.js';
import { validateSecAggSettings } from './secagg-round.js';
import type { HelloCredentials } from './auth/authenticator.js';
import { socketOriginGuard } from './auth/cors.js';
import { createAuthenticator, createWebServer } from './auth/server-security.js';
import { DurableState, type ResumedState } from './durable/durable-state.js';
import { KnownClients } from './durable/known-clients.js';
import type { ConnectionLimits } from './security-config.js';
import { TrainingControl } from './training-control.js';
import { AdminToken } from './admin-token.js';
import { AsyncEngine, type AsyncHost } from './async/async-engine.js';
import { ClientHandlers } from './client-handlers.js';
import { runRoundLoop, type LoopFinish, type RoundLoopHost } from './sync/round-loop.js';
import { OpenRound, type CentralEvaluate, type GlobalModel, type SyncContext } from './sync/sync-context.js';
import { secureVectorLength } from './sync/secagg-phase.js';
import { trainConfigFor } from './sync/train-phase.js';
import { ClusterNode } from './cluster/cluster-node.js';

import type { FederationServerEvents, FederationServerOptions, FederationSummary } from './federation-types.js';

export type { FederationServerOptions, FederationSummary, FederationServerEvents } from './federation-types.js';

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
  /** With dataDir: where this run resumed from. */
  readonly resumedFrom: ResumedState | null;
  private readonly definition: ModelDefinition;
  private readonly strategy: Strategy;
  private readonly privacy: PrivacyLedger;
  private readonly random: RandomSource;
  private readonly registry = new ClientRegistry();
  private readonly connections = new Map<string, ClientConnection>();
  private readonly history: RoundMetrics[] = [];
  private readonly checksum: Crc32 = nativeCrc32 ?? pureCrc32;
  private readonly stopController = new AbortController();
  private stopReason: FinishedMessage['reason'] = 'stopped';
  private readonly numParams: number;
  /** The global model, its version and the current round. */
  private readonly current: GlobalModel;
  /** The open round's phases and what they collected. */
  private readonly open = new OpenRound();
  private readonly handlers: ClientHandlers;
  private currentStage: ServerStage = 'starting';
  /** With encryptUpdates: the opener, ready after listen. */
  private opener: FastUpdateOpener | null = null;
  private running: Promise<FederationSummary> | null = null;
  private closed: Promise<void> | null = null;
  /** With mode 'async': the buffered asynchronous loop, once run() has started it. */
  private asyncEngine: AsyncEngine | null = null;
  private centralEvaluateFn: CentralEvaluate | undefined;
  private readonly startedAt = Date.now();
  /** Every client ever joined (persisted; pins identity keys under auth). */
  private readonly knownClients = new KnownClients();
  /** With dataDir: the snapshot committed after each round. */
  private readonly durable: DurableState | null;
  /** With the cluster option: this process's part in a federation shared through Redis. */
  readonly cluster: ClusterNode | null;

  constructor(options: FederationServerOptions) {
    super();
    const { model, strategy, random, logger, centralEvaluate, configureHttp, staticMounts, allowSeededRandom, adminToken, adminTokenFile, ...rest } = options;
    const strategyObject = isStrategyObject(strategy) ? strategy : null;
    this.options = resolveServerOptions(strategyObject === null && strategy !== undefined ? { ...rest, strategy } : rest);
    validateModel(model);
    this.definition = model;
    this.numParams = layoutSize(model.layout);
    this.current = { weights: model.weights.slice(), version: 0, round: 0 };
    this.random = random ?? cryptoRandomSource();
    this.privacy = new PrivacyLedger(this.options.privacy, strategyObject ?? createStrategy(this.options.strategy), this.random, { allowSeededRandom: allowSeededRandom === true });
    const secAgg = this.options.secureAggregation;
    // The masked vector is the update plus, under distributed adaptive clipping, the clipped count.
    if (secAgg?.enabled === true) validateSecAggSettings(secAgg, Math.max(2, this.options.sampling.minFit), secureVectorLength(this.numParams, this.privacy));
    this.strategy = this.privacy.strategy;
    this.logger = logger ?? createLogger();
    this.durable = this.options.dataDir === undefined ? null : new DurableState(joinPath(this.options.dataDir, 'state'), { layout: model.layout, strategy: this.strategy, privacy: this.privacy, knownClients: this.knownClients });
    this.resumedFrom = this.durable?.restore() ?? null;
    if (this.resumedFrom !== null) this.resume(this.resumedFrom);
    const authenticator = createAuthenticator(this.options, this.knownClients);
    this.centralEvaluateFn = centralEvaluate;
    this.adminToken = AdminToken.resolve({ adminToken, adminTokenFile });
    this.control.onChange((state) => this.emit('control', state));
    this.handlers = new ClientHandlers({
      ...this.context(),
      definition: model,
      connections: this.connections,
      knownClients: this.knownClients,
      authenticator,
      stopped: () => this.stopController.signal.aborted,
      asyncEngine: () => this.asyncEngine,
      opener: () => this.opener,
      joined: (info) => this.emit('client-joined', info),
      left: (clientId) => this.emit('client-left', clientId),
      stored: (clientId) => this.cluster?.stored(clientId),
    });
    // Before the HTTP API: its Prometheus registry reads status(), which names the cluster.
    this.cluster =
      this.options.cluster === undefined
        ? null
        : new ClusterNode(
            {
              ...this.context(),
              control: this.control,
              stopReason: () => this.stopReason,
              record: (metrics) => this.record(metrics),
              adoptHistory: (history) => this.history.splice(0, this.history.length, ...history),
            },
            this.options.cluster,
          );
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
    // Cluster mode: Redis must answer before the port opens (redis-unreachable names the URL).
    if (this.cluster !== null) await this.cluster.start(this.io);
    try {
      await new Promise<void>((resolve, reject) => {
        this.http.once('error', reject);
        this.http.listen(port, host, () => {
          this.http.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      // The port could not open: shut down at once, so a cluster process leaves (no
      // heartbeat for a process that holds no clients, no lock held by it).
      if (this.cluster !== null) await this.close();
      throw error;
    }
    return (this.http.address() as AddressInfo).port;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** Runs the round loop until training completes or is stopped. Idempotent. */
  run(): Promise<FederationSummary> {
    this.running ??= this.cluster !== null ? this.runCluster(this.cluster) : this.options.mode === 'async' ? this.runAsync() : this.runSync();
    return this.running;
  }

  /** Stops training, tells clients, closes sockets and the HTTP server. Idempotent. */
  close(reason: FinishedMessage['reason'] = 'server-shutting-down'): Promise<void> {
    this.closed ??= this.shutDown(reason);
    return this.closed;
  }

  private async shutDown(reason: FinishedMessage['reason']): Promise<void> {
    if (!this.stopController.signal.aborted) {
      this.emit('closing');
      this.stopReason = reason;
      this.stopController.abort();
      this.open.trainPhase?.close('server-shutting-down', 'the server is shutting down');
      this.open.evaluatePhase?.close('server-shutting-down', 'the server is shutting down');
    }
    if (this.running) await this.running;
    await this.cluster?.close();
    await new Promise<void>((resolve) => {
      this.io.close(() => resolve());
    });
    this.cluster?.disconnect();
    this.http.closeAllConnections?.();
  }

  /** Sets the server-side evaluation (also settable through the constructor options). */
  setCentralEvaluation(fn: FederationServerOptions['centralEvaluate']): void {
    this.centralEvaluateFn = fn;
  }

  /** Takes over a restored snapshot: model, version and round history. */
  private resume(state: ResumedState): void {
    this.current.weights = state.weights;
    this.current.version = state.modelVersion;
    this.history.push(...state.history);
    this.current.round = state.round;
    this.logger.info({ round: state.round, modelVersion: state.modelVersion, modelSha256: state.modelSha256 }, `resumed from ${this.options.dataDir} after round ${state.round}`);
  }

  // ---- read-only views ---------------------------------------------------------------------

  get stage(): ServerStage {
    return this.currentStage;
  }

  get modelVersion(): number {
    return this.current.version;
  }

  currentWeights(): Float32Array {
    return this.current.weights;
  }

  modelDefinition(): ModelDefinition {
    return { ...this.definition, weights: this.current.weights };
  }

  roundHistory(): RoundMetrics[] {
    return this.history.slice();
  }

  status(): ServerStatus {
    const last = this.history[this.history.length - 1] ?? null;
    return {
      protocolVersion: PROTOCOL_VERSION,
      mode: this.options.mode,
      stage: this.currentStage,
      ...this.control.state(),
      round: this.current.round,
      roundsCompleted: this.history.filter((r) => r.status === 'completed').length,
      // Async mode counts model versions; its limit is async.maxVersions.
      roundsPlanned: this.options.mode === 'async' ? (this.options.async?.maxVersions ?? this.options.rounds) : this.options.rounds,
      modelVersion: this.current.version,
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
      cluster: this.cluster === null ? null : { processId: this.cluster.processId, coordinator: this.cluster.isCoordinator, ...this.cluster.census },
    };
  }

  // ---- ConnectionHost (client-handlers.ts does the work) ------------------------------------

  transferLimits(): { maxChunkBytes: number; maxTransferBytes: number; timeoutMs: number; checksum: Crc32 } {
    return {
      maxChunkBytes: this.options.transfer.maxChunkBytes,
      // An update is exactly the model's size.
      maxTransferBytes: this.handlers.maxUpdateBytes(),
      timeoutMs: this.options.transfer.timeoutMs,
      checksum: this.checksum,
    };
  }

  connectionLimits(): ConnectionLimits {
    return this.options.connectionLimits;
  }

  join(info: ClientInfo, connection: ClientConnection, credentials: Pick<HelloCredentials, 'authToken' | 'authSignature'> = {}): WelcomeMessage {
    return this.handlers.join(info, connection, credentials);
  }

  leave(clientId: string, connection: ClientConnection): void {
    this.handlers.leave(clientId, connection);
  }

  onBytesIn(bytes: number): void {
    this.open.bytesIn += bytes;
  }

  onTrainResult(clientId: string, msg: TrainResultMessage, connection: ClientConnection): void | Promise<void> {
    return this.handlers.onTrainResult(clientId, msg, connection);
  }

  onTrainError(clientId: string, msg: TrainErrorMessage): void {
    this.handlers.onTrainError(clientId, msg);
  }

  onSecAggReply(clientId: string, msg: SecAggReplyMessage, connection: ClientConnection): void | Promise<void> {
    return this.handlers.onSecAggReply(clientId, msg, connection);
  }

  onEvaluateResult(clientId: string, msg: EvaluateResultMessage): void {
    this.handlers.onEvaluateResult(clientId, msg);
  }

  private noteRejection(clientId: string | null, error: unknown): void {
    const code = error instanceof FedkitError ? error.code : 'internal';
    const message = error instanceof Error ? error.message : String(error);
    this.emit('rejected', { clientId, code, message });
  }

  // ---- running: sync/round-loop.ts or async/async-engine.ts ---------------------------------

  private setStage(stage: ServerStage): void {
    if (this.currentStage === stage) return;
    this.currentStage = stage;
    this.emit('stage', stage);
  }

  /** What the round loop and the client handlers share (sync/sync-context.ts). */
  private context(): SyncContext {
    return {
      options: this.options,
      logger: this.logger,
      random: this.random,
      registry: this.registry,
      strategy: this.strategy,
      privacy: this.privacy,
      layout: this.definition.layout,
      numParams: this.numParams,
      checksum: this.checksum,
      connections: this.connections,
      model: this.current,
      open: this.open,
      durable: this.durable,
      history: () => this.history,
      centralEvaluate: () => this.centralEvaluateFn,
      setStage: (stage) => this.setStage(stage),
      rejected: (clientId, error) => this.noteRejection(clientId, error),
    };
  }

  /** Mode 'sync': rounds (sync/round-loop.ts). */
  private async runSync(): Promise<FederationSummary> {
    const host: RoundLoopHost = {
      ...this.context(),
      control: this.control,
      resumedRound: this.resumedFrom?.round ?? 0,
      stopReason: () => this.stopReason,
      record: (metrics) => this.record(metrics),
    };
    return this.finish(await runRoundLoop(host, this.stopController.signal));
  }

  /** Cluster mode: follow the shared state, coordinate while holding the lock (cluster/). */
  private async runCluster(cluster: ClusterNode): Promise<FederationSummary> {
    return this.finish(await cluster.run(this.stopController.signal));
  }

  /** Mode 'async': model versions instead of rounds (async/async-engine.ts). */
  private async runAsync(): Promise<FederationSummary> {
    const host: AsyncHost = {
      ...this.context(),
      control: this.control,
      start: { weights: this.current.weights, version: this.current.version },
      connection: (clientId) => this.connections.get(clientId),
      trainConfig: (version) => trainConfigFor(this.options, this.privacy, version),
      publish: (version, weights, metrics) => {
        this.current.weights = weights;
        this.current.version = this.current.round = version;
        // As in a sync round: committed with its privacy charge before anyone can see the model.
        this.durable?.commit({ round: version, modelVersion: version, weights, history: [...this.history, metrics] });
      },
      centralEvaluate: (weights, version) => this.centralEvaluateFn?.(weights, version) ?? null,
      record: (metrics) => this.record(metrics),
    };
    this.asyncEngine = new AsyncEngine(host);
    const finish = await this.asyncEngine.run(this.stopController.signal);
    return this.finish(finish ?? { reason: this.stopReason, message: 'training was stopped' });
  }

  private finish(finish: LoopFinish): FederationSummary {
    this.setStage(finish.reason === 'completed' ? 'finished' : 'stopped');
    const completed = this.history.filter((r) => r.status === 'completed');
    const last = completed[completed.length - 1];
    // In a cluster the coordinator that ended the federation tells every client, on every
    // process (through the redis adapter); a process that merely stops tells its own.
    const finished = { reason: finish.reason, round: last?.round ?? 0, message: finish.message };
    if (this.cluster === null || this.cluster.ledFinish) this.io.emit('finished', finished);
    else if (!this.cluster.followedFinish) this.io.local.emit('finished', finished);
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
}

function isStrategyObject(value: unknown): value is Strategy {
  return typeof value === 'object' && value !== null && typeof (value as Strategy).beginTrain === 'function';
}
