/**
 * One process's membership in a cluster: connects to Redis at start (or fails naming the
 * URL), attaches the socket.io redis adapter for broadcasts, heartbeats its client list,
 * follows the shared state (the model its clients train from) and the round in flight
 * (cluster-worker.ts), and competes for the coordinator lock; while it holds the lock it
 * runs the cluster's round loop (coordinator-loop.ts). See README.md in this folder.
 */
import type { Redis } from 'ioredis';
import { FedkitError } from '@fedkit/protocol';
import type { Server as SocketIoServer } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { RoundMetrics } from '../metrics.js';
import type { LoopFinish } from '../sync/round-loop.js';
import type { SyncContext } from '../sync/sync-context.js';
import type { TrainingControl } from '../training-control.js';
import { defaultProcessId, type ClusterOptions } from './cluster-config.js';
import type { ClusterLink } from './cluster-link.js';
import { readHistory, readState, publishState, stateSeq, writeHistory, type ClusterStateMeta } from './cluster-state.js';
import { ClusterWorker } from './cluster-worker.js';
import { CoordinatorLock } from './coordinator-lock.js';
import { runCoordinator } from './coordinator-loop.js';
import { ClusterKeys } from './keys.js';
import { clientUnion, heartbeat, leave, liveMembers } from './membership.js';
import { adapterPublisher, connectRedis, logConnectionErrors } from './redis-client.js';
import { readTask } from './round-task.js';
import { SharedControl } from './shared-control.js';
import { nextWakeup, wakeAll } from '../wakeup.js';

export interface ClusterNodeHost extends SyncContext {
  readonly control: TrainingControl;
  stopReason(): LoopFinish['reason'];
  record(metrics: RoundMetrics): void;
  /** Replaces the local round history with the shared one. */
  adoptHistory(history: RoundMetrics[]): void;
}

export class ClusterNode {
  readonly processId: string;
  readonly keys: ClusterKeys;
  private redis: Redis | null = null;
  private adapterClients: Redis[] = [];
  private worker: ClusterWorker | null = null;
  private sharedControl: SharedControl | null = null;
  private lock: CoordinatorLock | null = null;
  private timers: ReturnType<typeof setInterval>[] = [];
  private seenSeq: string | null = null;
  private finished: LoopFinish | null = null;
  private readonly finishedWaiters = new Set<() => void>();
  private lastCompleted = 0;
  private leading = false;
  private readonly closing = new AbortController();
  private ticking = false;
  private lastCensus = { processes: 0, clientsTotal: 0 };
  /** True when this process, as coordinator, ended the federation (it tells every client). */
  ledFinish = false;

  /** True when the federation ended elsewhere (the coordinator already told every client). */
  get followedFinish(): boolean {
    return this.finished !== null && !this.ledFinish;
  }

  constructor(
    private readonly host: ClusterNodeHost,
    private readonly options: ClusterOptions,
  ) {
    this.processId = options.processId ?? defaultProcessId();
    this.keys = new ClusterKeys(options.keyPrefix, options.federationId);
    this.lastCompleted = host.model.round;
  }

  get isCoordinator(): boolean {
    return this.leading;
  }

  private get link(): ClusterLink {
    return { redis: this.redis!, keys: this.keys, processId: this.processId };
  }

  /** Connects (throws `redis-unreachable` naming the URL), attaches the adapter, starts following. */
  async start(io: SocketIoServer): Promise<void> {
    const { redisUrl, connectTimeoutMs } = this.options;
    this.redis = await connectRedis(redisUrl, connectTimeoutMs, this.host.logger, 'main');
    const pub = adapterPublisher(this.redis, this.host.logger);
    const sub = this.redis.duplicate();
    logConnectionErrors(sub, this.host.logger, 'adapter-subscribe');
    this.adapterClients = [pub, sub];
    io.adapter(createAdapter(pub, sub, { key: this.keys.adapter }));
    this.lock = new CoordinatorLock(this.redis, this.keys, this.processId, this.options.coordinatorLockTtlMs);
    this.worker = new ClusterWorker(this.host, this.redis, this.keys, this.processId);
    this.sharedControl = new SharedControl(this.redis, this.keys, this.host.control, this.host.logger);
    await this.tick();
    await this.beat();
    await this.takeCensus();
    this.every(this.options.pollMs, () => this.tick());
    this.every(Math.max(50, Math.floor(this.options.heartbeatTtlMs / 3)), () => this.beat());
    this.every(Math.max(1000, this.options.heartbeatTtlMs), () => this.takeCensus());
    // The heartbeat also runs on every join and leave, so the coordinator sees clients soon.
    void this.beatOnChanges();
  }

  /** The cluster client-handler hook: resolves once `clientId`'s folded reply is in Redis. */
  stored(clientId: string): Promise<void> | undefined {
    return this.worker?.flusher?.folded(clientId);
  }

  /** Competes for the lock and coordinates while holding it, until the federation ends or `signal`. */
  async run(signal: AbortSignal): Promise<LoopFinish> {
    while (!signal.aborted && this.finished === null) {
      let acquired = false;
      try {
        acquired = await this.lock!.acquire();
      } catch (error) {
        this.host.logger.warn({ err: (error as Error).message }, 'cannot reach Redis for the coordinator lock');
      }
      if (acquired) {
        const finish = await this.coordinate(signal);
        if (finish !== null) return finish;
      } else {
        await this.waitForFinishOr(signal, this.options.coordinatorLockTtlMs / 3);
      }
    }
    return this.finished ?? { reason: this.host.stopReason(), message: 'training was stopped' };
  }

  /** Stops following, gives the lock back, leaves the membership, closes the connections. */
  async close(): Promise<void> {
    this.closing.abort();
    this.sharedControl?.close();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.worker?.close();
    const redis = this.redis;
    if (redis !== null) {
      await Promise.allSettled([this.lock!.release(), leave(redis, this.keys, this.processId)]);
    }
  }

  /** After socket.io has closed (its adapter uses them): quits the Redis connections. */
  disconnect(): void {
    for (const c of [...this.adapterClients, ...(this.redis === null ? [] : [this.redis])]) c.disconnect();
    this.adapterClients = [];
    this.redis = null;
  }

  // ---- coordinating -------------------------------------------------------------------------

  private async coordinate(signal: AbortSignal): Promise<LoopFinish | null> {
    const leader = new AbortController();
    const ttl = this.options.coordinatorLockTtlMs;
    let lastRenewed = Date.now();
    const renew = setInterval(() => {
      this.lock!.renew().then(
        (held) => {
          if (held) lastRenewed = Date.now();
          else leader.abort();
        },
        () => {
          if (Date.now() - lastRenewed > ttl) leader.abort();
        },
      );
    }, Math.max(50, Math.floor(ttl / 3)));
    this.leading = true;
    this.host.logger.info({ processId: this.processId }, 'cluster: this process is the coordinator');
    try {
      if (!(await this.takeOver())) {
        await this.lock!.release();
        await this.waitForFinishOr(signal, this.options.coordinatorLockTtlMs);
        return null;
      }
      const finish = await runCoordinator(
        { ...this.host, link: this.link, lastCompletedRound: () => this.lastCompleted, publish: (record, completedRound) => this.publish(record, null, completedRound) },
        signal,
        leader.signal,
      );
      if (finish === null) return null;
      this.ledFinish = !signal.aborted;
      if (this.ledFinish) {
        await this.publish(null, finish).catch(() => false);
        this.finished = finish;
      }
      return finish;
    } catch (error) {
      this.host.logger.warn({ err: (error as Error).message }, 'cluster: coordinating failed (Redis unavailable?); will try again');
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
      return null;
    } finally {
      clearInterval(renew);
      this.leading = false;
    }
  }

  /**
   * A new coordinator resumes from the shared state, or publishes its own when Redis has none
   * (or an older one). After Redis lost its data, a process that holds an older model than
   * another live one steps back (false) so the newest model carries on.
   */
  private async takeOver(): Promise<boolean> {
    const redis = this.redis!;
    const state = await readState(redis, this.keys);
    if (state !== null && state.meta.modelVersion >= this.host.model.version) {
      await this.adopt(state.meta, state.weights, state.seq);
      return true;
    }
    if (state === null) {
      // Give the other processes one heartbeat period to re-register, then compare models.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(this.options.heartbeatTtlMs / 2)));
      const newest = Math.max(...[...(await liveMembers(redis, this.keys, this.host.logger)).values()].map((m) => m.modelVersion));
      if (newest > this.host.model.version) {
        this.host.logger.info({ modelVersion: this.host.model.version, newest }, 'cluster: another process holds a newer model; letting it coordinate');
        return false;
      }
    }
    await writeHistory(redis, this.keys, this.host.history());
    await this.publish(null, null);
    this.host.logger.info({ modelVersion: this.host.model.version }, 'cluster: published this process\'s state (Redis had none or an older one)');
    return true;
  }

  private async publish(record: RoundMetrics | null, finished: LoopFinish | null, completedRound = this.lastCompleted): Promise<boolean> {
    const { model, strategy, privacy } = this.host;
    const round = completedRound;
    const meta: ClusterStateMeta = {
      modelVersion: model.version,
      round,
      strategyState: strategy.exportState?.() ?? null,
      privacyState: privacy.exportState(),
      finished,
      writer: this.processId,
    };
    const ok = await publishState(this.redis!, this.keys, this.processId, meta, model.weights, record);
    if (ok) this.lastCompleted = round;
    return ok;
  }

  // ---- following ----------------------------------------------------------------------------

  /** Follows the shared state and the round in flight (every pollMs). */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    const redis = this.redis!;
    try {
      const seq = await stateSeq(redis, this.keys);
      if (seq !== null && seq !== this.seenSeq && !this.leading) {
        const state = await readState(redis, this.keys);
        // Re-checked: this process may have become the coordinator while reading.
        if (state !== null && !this.leading) await this.adopt(state.meta, state.weights, state.seq);
      }
      // Apart: an invalid control record must not stop this process following the rounds.
      await this.sharedControl!.sync().catch((error: Error) => this.host.logger.warn({ err: error.message }, 'cluster: cannot apply the shared operator control'));
      const { task, openId } = await readTask(redis, this.keys);
      if (task !== null && openId === task.id && task.modelVersion !== this.host.model.version && !this.leading) {
        // Behind (or ahead of) the round in flight: take the shared state as it is now.
        const state = await readState(redis, this.keys);
        if (state !== null && state.meta.modelVersion === task.modelVersion && !this.leading) await this.adopt(state.meta, state.weights, state.seq);
      }
      // A tick that was reading while close() ran must not start a local round.
      if (!this.closing.signal.aborted) await this.worker!.onTask(task, openId);
    } catch (error) {
      // Invalid data in Redis is worth a warning; an unreachable Redis is logged by its connection.
      if (error instanceof FedkitError) this.host.logger.warn({ err: error.message, code: error.code }, 'cluster: cannot follow the shared state');
      else this.host.logger.debug({ err: (error as Error).message }, 'cluster: Redis unavailable while following');
    } finally {
      this.ticking = false;
    }
  }

  private async adopt(meta: ClusterStateMeta, weights: Float32Array, seq: string): Promise<void> {
    const { model, strategy, privacy } = this.host;
    // Everything is read first, so a read that fails leaves nothing half-adopted.
    const history = await readHistory(this.redis!, this.keys, this.host.logger);
    if (weights.length !== model.weights.length) {
      throw new FedkitError('state-corrupt', `Redis holds a shared model of ${weights.length} floats; this server's model has ${model.weights.length}`);
    }
    model.weights = weights;
    model.version = meta.modelVersion;
    model.round = meta.round;
    this.lastCompleted = meta.round;
    if (meta.strategyState !== null && strategy.importState !== undefined) strategy.importState(meta.strategyState);
    privacy.importState(meta.privacyState);
    this.host.adoptHistory(history);
    this.seenSeq = seq;
    if (meta.finished !== null && this.finished === null) {
      this.finished = meta.finished;
      wakeAll(this.finishedWaiters);
    }
  }

  private async beat(): Promise<void> {
    if (this.redis === null) return;
    const clients = this.host.registry.all().map((c) => ({ clientId: c.clientId, numExamples: c.numExamples, numEvalExamples: c.numEvalExamples }));
    try {
      await heartbeat(this.redis, this.keys, { processId: this.processId, at: Date.now(), modelVersion: this.host.model.version, clients }, this.options.heartbeatTtlMs);
    } catch (error) {
      this.host.logger.debug({ err: (error as Error).message }, 'cluster: heartbeat failed (Redis unavailable)');
    }
  }

  /** The cluster as last counted (every heartbeat TTL, at most once a second): live processes and their clients. */
  get census(): { processes: number; clientsTotal: number } {
    return this.lastCensus;
  }

  private async takeCensus(): Promise<void> {
    if (this.redis === null) return;
    try {
      const members = await liveMembers(this.redis, this.keys, this.host.logger);
      this.lastCensus = { processes: members.size, clientsTotal: clientUnion(members).length };
    } catch (error) {
      this.host.logger.debug({ err: (error as Error).message }, 'cluster: cannot count the members (Redis unavailable)');
    }
  }

  private async beatOnChanges(): Promise<void> {
    const signal = this.closing.signal;
    while (!signal.aborted) {
      await this.host.registry.changed(signal);
      if (!signal.aborted) await this.beat();
    }
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const timer = setInterval(() => void fn(), ms);
    timer.unref?.();
    this.timers.push(timer);
  }

  private waitForFinishOr(signal: AbortSignal, ms: number): Promise<void> {
    return nextWakeup(this.finishedWaiters, AbortSignal.any([signal, AbortSignal.timeout(Math.ceil(ms))]));
  }

}
