/**
 * What the server does with each client message once connection.ts has validated it:
 * join (auth, duplicate sessions, the welcome) and leave, and the routing of train
 * results (including opening sealed updates), train errors, SecAgg+ replies and
 * evaluation results to the open round (sync/sync-context.ts) or to the async engine.
 */
import {
  FedkitError,
  PROTOCOL_VERSION,
  assertFinite,
  assertSameLayout,
  decodeFloat32,
  isErrorCode,
  type EvaluateResultMessage,
  type SecAggReplyMessage,
  type TrainErrorMessage,
  type TrainResultMessage,
  type WelcomeMessage,
} from '@fedkit/protocol';
import type { TrainReply } from '@fedkit/aggregation';
import { BOX_OVERHEAD_BYTES } from '@fedkit/privacy';
import type { AsyncEngine } from './async/async-engine.js';
import type { Authenticator, HelloCredentials } from './auth/authenticator.js';
import type { ClientInfo } from './client-registry.js';
import type { ClientConnection } from './connection.js';
import type { KnownClients } from './durable/known-clients.js';
import type { ModelDefinition } from './model.js';
import type { FastUpdateOpener } from './update-opener.js';
import type { SyncContext } from './sync/sync-context.js';

export interface ClientHandlersHost extends Pick<SyncContext, 'options' | 'logger' | 'registry' | 'privacy' | 'numParams' | 'open'> {
  readonly definition: Pick<ModelDefinition, 'topology' | 'layout'>;
  readonly connections: Map<string, ClientConnection>;
  /** Every client ever joined (persisted; pins identity keys under auth). */
  readonly knownClients: KnownClients;
  readonly authenticator: Authenticator | null;
  /** True once close() has begun. */
  stopped(): boolean;
  /** With mode 'async': the engine that takes the replies, once running. */
  asyncEngine(): AsyncEngine | null;
  /** With encryptUpdates: the opener, ready after listen. */
  opener(): FastUpdateOpener | null;
  joined(info: ClientInfo): void;
  left(clientId: string): void;
  rejected(clientId: string, error: unknown): void;
  /**
   * Cluster mode: resolves once the folded reply of `clientId` is stored in Redis, so the
   * acknowledgement waits for it; undefined in one process (acknowledged at once).
   */
  stored?(clientId: string): Promise<void> | undefined;
}

export class ClientHandlers {
  constructor(private readonly host: ClientHandlersHost) {}

  join(info: ClientInfo, connection: ClientConnection, credentials: Pick<HelloCredentials, 'authToken' | 'authSignature'> = {}): WelcomeMessage {
    const { host } = this;
    if (host.stopped()) throw new FedkitError('server-shutting-down', 'the server is shutting down');
    host.authenticator?.check({ ...credentials, clientId: info.clientId, sessionId: connection.socket.id, ...(info.identityPublicKey === undefined ? {} : { identityPublicKey: info.identityPublicKey }) });
    if (host.options.encryptUpdates && info.identityPublicKey === undefined) {
      throw new FedkitError('invalid-message', 'hello: field "identityPublicKey": this server requires encrypted updates; send your 32-byte Ed25519 public key');
    }
    const previous = host.connections.get(info.clientId);
    if (previous !== undefined && previous !== connection) {
      // The newest session of a client id wins (a reconnect the server had not noticed yet).
      host.logger.info({ clientId: info.clientId }, 'client id reconnected; dropping the older session');
      this.leave(info.clientId, previous);
      previous.clientId = null;
      previous.reject({ code: 'duplicate-client-id', message: `client id ${info.clientId} connected again elsewhere` });
    }
    host.connections.set(info.clientId, connection);
    host.registry.add(info);
    host.knownClients.note(info);
    host.logger.info({ clientId: info.clientId, platform: info.platform, backend: info.backend, numExamples: info.numExamples }, 'client joined');
    host.joined(info);
    return {
      ok: true,
      protocolVersion: PROTOCOL_VERSION,
      sessionId: connection.socket.id,
      model: { topology: host.definition.topology, layout: host.definition.layout.map((t) => ({ ...t })), numParams: host.numParams },
      limits: {
        maxChunkBytes: host.options.transfer.maxChunkBytes,
        maxTransferBytes: this.maxUpdateBytes(),
        transferTimeoutMs: host.options.transfer.timeoutMs,
      },
      encryptUpdates: host.options.encryptUpdates,
      secureAggregation: this.secureAggregationEnabled,
    };
  }

  leave(clientId: string, connection: ClientConnection): void {
    const { host } = this;
    if (host.connections.get(clientId) !== connection) return;
    host.connections.delete(clientId);
    host.registry.remove(clientId);
    host.open.trainPhase?.markFailed(clientId, 'client-disconnected', 'the client disconnected during the round');
    host.open.secAggRound?.drop(clientId, 'client-disconnected', 'the client disconnected during the round');
    host.open.evaluatePhase?.markFailed(clientId, 'client-disconnected', 'the client disconnected during evaluation');
    host.asyncEngine()?.onLeave(clientId);
    host.left(clientId);
  }

  onTrainResult(clientId: string, msg: TrainResultMessage, connection: ClientConnection): void | Promise<void> {
    const { host } = this;
    const asyncEngine = host.asyncEngine();
    if (asyncEngine !== null) return asyncEngine.onTrainResult(clientId, msg, connection);
    if (this.secureAggregationEnabled) {
      // The server must never hold an update in the clear: only masked input is accepted.
      connection.transfers.drop(msg.transferId);
      throw new FedkitError('invalid-message', 'train-result: this server runs secure aggregation; answer the secagg requests instead');
    }
    const phase = host.open.trainPhase;
    const late = host.open.lastTrainPhase?.lateReplyError(clientId, msg.round) ?? null;
    if (late !== null) {
      connection.transfers.drop(msg.transferId);
      host.rejected(clientId, late);
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
      host.rejected(clientId, error);
      throw error;
    }
    try {
      const received = connection.transfers.take(msg.transferId);
      const layout = host.definition.layout;
      assertSameLayout(layout, msg.layout);
      const bytes = host.options.encryptUpdates ? this.openSealedUpdate(clientId, msg, received) : received;
      const update = decodeFloat32(bytes, layout);
      assertFinite(update, layout);
      const reply: TrainReply = { clientId, numExamples: msg.numExamples, update, metrics: msg.metrics };
      if (host.options.foldOrder === 'client-id') host.open.pendingReplies.push(reply);
      else host.open.accumulator!.add(reply);
      phase.markAnswered(clientId);
      return host.stored?.(clientId);
    } catch (error) {
      // A bad update fails this client for the round; it never reaches the model.
      const wire = error instanceof FedkitError ? error : new FedkitError('invalid-message', (error as Error).message);
      phase.markFailed(clientId, wire.code, wire.message);
      host.rejected(clientId, wire);
      throw wire;
    }
  }

  onTrainError(clientId: string, msg: TrainErrorMessage): void {
    const asyncEngine = this.host.asyncEngine();
    if (asyncEngine !== null) return asyncEngine.onTrainError(clientId, msg);
    const phase = this.host.open.trainPhase;
    if (phase === null) throw new FedkitError('round-not-open', `no training round is open`);
    phase.checkCanReply(clientId, msg.round);
    const code = isErrorCode(msg.error.code) ? msg.error.code : 'client-error';
    phase.markFailed(clientId, code, `client reported: ${msg.error.message}`);
    this.host.open.secAggRound?.drop(clientId, code, `client reported: ${msg.error.message}`);
  }

  onSecAggReply(clientId: string, msg: SecAggReplyMessage, connection: ClientConnection): void | Promise<void> {
    const secAgg = this.host.open.secAggRound;
    const drop = (): void => {
      const transferId = (msg.payload as { transferId?: unknown } | null)?.transferId;
      if (typeof transferId === 'string') connection.transfers.drop(transferId);
    };
    if (secAgg === null || this.host.open.trainPhase === null) {
      drop();
      throw new FedkitError('round-not-open', `no secure-aggregation round is open (round ${msg.round} was sent)`);
    }
    try {
      // Cluster mode: the promise settles once the reply (or masked sum) is stored in Redis.
      return secAgg.onReply(clientId, msg, (transferId) => connection.transfers.take(transferId));
    } catch (error) {
      drop();
      this.host.rejected(clientId, error);
      throw error;
    }
  }

  onEvaluateResult(clientId: string, msg: EvaluateResultMessage): void {
    const asyncEngine = this.host.asyncEngine();
    if (asyncEngine !== null) return asyncEngine.onEvaluateResult(clientId, msg);
    const phase = this.host.open.evaluatePhase;
    if (phase === null) throw new FedkitError('round-not-open', `no evaluation is open`);
    phase.checkCanReply(clientId, msg.round);
    this.host.open.evaluateReplies.push({ clientId, numExamples: msg.numExamples, loss: msg.loss, accuracy: msg.accuracy });
    phase.markAnswered(clientId);
  }

  /**
   * The largest update transfer accepted: the model's bytes, plus the box tag when sealed,
   * or the weight word of a masked secure-aggregation vector.
   */
  maxUpdateBytes(): number {
    const { options, numParams, privacy } = this.host;
    // A masked vector is longer than an update: the weight word and the DP strategy's extra coordinates.
    return numParams * 4 + (options.encryptUpdates ? BOX_OVERHEAD_BYTES : 0) + (this.secureAggregationEnabled ? 4 * (1 + privacy.secureSumExtraCoordinates) : 0);
  }

  private get secureAggregationEnabled(): boolean {
    return this.host.options.secureAggregation?.enabled === true;
  }

  /** Verifies (round, sender, signature, nonce) and only then decrypts a sealed update. */
  private openSealedUpdate(clientId: string, msg: TrainResultMessage, ciphertext: Uint8Array): Uint8Array {
    if (msg.envelope === undefined) {
      throw new FedkitError('invalid-message', 'train-result: field "envelope": this server requires encrypted updates');
    }
    const identity = this.host.registry.get(clientId)?.identityPublicKey;
    const opener = this.host.opener();
    const roundKeys = this.host.open.roundKeys;
    if (opener === null || roundKeys === null || identity === undefined) {
      throw new FedkitError('internal', 'encrypted updates are not set up for this round');
    }
    return opener.open(
      { round: msg.round, clientId, ciphertext, ...msg.envelope },
      { round: msg.round, expectedClientId: clientId, clientIdentityKey: identity, keyring: roundKeys.keyring, seenNonces: roundKeys.seenNonces },
    );
  }
}
