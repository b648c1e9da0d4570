/**
 * A SecAgg+ training round across the cluster, as the coordinator runs it. One
 * `SecAggRound` (secagg-round.ts, over the state machine of @fedkit/privacy/secagg) spans
 * every sampled client on every process: the coordinator alone decides the stages, the
 * drop-outs and the unmasking. Its requests go to each client's process through a Redis
 * inbox; the processes (secagg-relay.ts) check their clients' replies and forward them, and
 * store one masked sum each (masked sums add mod 2^k), which the coordinator adds to the
 * state machine before collect-masked closes. A process that stops heartbeating loses its
 * clients: they are drop-outs, handled by the protocol as in one process.
 */
import { FedkitError, type SecAggRequestMessage } from '@fedkit/protocol';
import type { Failure } from '@fedkit/aggregation';
import type { SecAggResult } from '@fedkit/privacy/secagg';
import type { RoundMetrics } from '../metrics.js';
import { SecAggRound, secAggParamsFor } from '../secagg-round.js';
import { foldSecAgg, secureVectorLength } from '../sync/secagg-phase.js';
import { aggregateFolded, emptyMetrics } from '../sync/train-phase.js';
import { compareIds, type SyncContext } from '../sync/sync-context.js';
import type { ClusterLink } from './cluster-link.js';
import type { ClusterRoundOutcome } from './cluster-round.js';
import { liveMembers } from './membership.js';
import { closeTask, openTask, type ClusterTask } from './round-task.js';
import { decodeMaskedSum, parseForwarded, SecAggChannel, secAggKeyTtlMs } from './secagg-channel.js';

/**
 * Opens `task` and runs SecAgg+ over its clients; never throws for a round that cannot
 * aggregate (it comes back failed). The caller commits the result.
 */
export async function runSecureClusterRound(ctx: SyncContext, link: ClusterLink, task: ClusterTask, signal: AbortSignal): Promise<ClusterRoundOutcome> {
  const { options, model, logger } = ctx;
  const startedAt = task.startedAt ?? Date.now();
  const base = emptyMetrics(model.version, task.round, task.attempt, startedAt, Object.keys(task.assignments).length);
  // The caller drops the task's keys once the outcome is recorded.
  let taskId: string | null = null;
  const fail = (reason: string, extra: Partial<RoundMetrics> = {}): ClusterRoundOutcome => ({
    metrics: { ...base, ...extra, status: 'failed', reason, durationMs: Date.now() - startedAt },
    result: null,
    taskId,
  });
  ctx.setStage('training');
  const clientIds = Object.keys(task.assignments).sort(compareIds);
  let params;
  try {
    params = secAggParamsFor(options.secureAggregation!, clientIds.length, secureVectorLength(ctx.numParams, ctx.privacy));
  } catch (error) {
    return fail(`secure aggregation cannot run with ${clientIds.length} clients: ${(error as Error).message}`);
  }
  const channel = new SecAggChannel(link.redis, link.keys, task.id, secAggKeyTtlMs(options.roundDeadlineMs, options.cluster!.coordinatorLockTtlMs));
  const ids = Object.fromEntries(clientIds.map((clientId, i) => [clientId, i + 1]));
  await channel.writeMeta({ taskId: task.id, round: task.round, ids, vectorLength: params.vectorLength, modulusBits: params.modulusBits });
  // The stages' deadlines add up to roundDeadlineMs from now; the processes keep relaying a
  // little longer, until the coordinator closes the task.
  taskId = task.id;
  if (!(await openTask(link.redis, link.keys, { ...task, deadlineAt: Date.now() + options.roundDeadlineMs + 4 * options.cluster!.pollMs }, link.processId))) {
    await channel.dropKeys([]).catch((caught: Error) => logger.warn({ taskId: task.id, err: caught.message }, 'secure aggregation: could not drop the round description (it expires)'));
    return fail('the coordinator lost its lock');
  }

  const live = new Set((await liveMembers(link.redis, link.keys, logger)).keys());
  const requests: { processId: string; clientId: string; message: SecAggRequestMessage }[] = [];
  const secAgg = new SecAggRound({
    round: task.round,
    clientIds,
    params,
    roundDeadlineMs: options.roundDeadlineMs,
    random: ctx.random,
    send: (clientId, message) => {
      const processId = task.assignments[clientId]!;
      if (!live.has(processId)) return false;
      requests.push({ processId, clientId, message });
      return true;
    },
    flush: async (stage) => {
      await channel.setStage(stage);
      await channel.sendRequests(requests.splice(0));
    },
    beforeClose: async (stage) => {
      if (stage !== 'collect-masked') return;
      // No masked sum is stored after this; what is stored now is the whole input.
      await channel.setStage(null);
      for (const [processId, bytes] of await channel.readMaskedSums()) {
        try {
          const { contributors, masked } = decodeMaskedSum(bytes, params.vectorLength);
          const stray = contributors.find((c) => task.assignments[c] !== processId);
          if (stray !== undefined) throw new FedkitError('not-selected', `process ${processId} stored a masked input of client ${stray}, which is not its client in this round`);
          secAgg.addMaskedSum(contributors, masked);
        } catch (error) {
          logger.warn({ taskId: task.id, processId, err: (error as Error).message }, 'secure aggregation: refused a process\'s masked sum');
          ctx.rejected(null, error);
        }
      }
    },
  });
  const pump = new ReplyPump(ctx, link, task, channel, secAgg, live);
  const pumping = pump.run();
  let result: SecAggResult | null = null;
  let error: string | undefined;
  try {
    result = await secAgg.run(signal);
    logger.info({ round: task.round, contributors: result.contributors.length, dropped: result.dropped.length }, 'secure aggregation completed');
  } catch (caught) {
    const message = caught instanceof Error ? caught.message : String(caught);
    const code = caught instanceof FedkitError ? caught.code : 'internal';
    if (code === 'internal') logger.error({ err: caught, round: task.round }, 'secure aggregation failed');
    else logger.warn({ round: task.round, code }, `secure aggregation aborted: ${message}`);
    error = `secure aggregation aborted: ${message}`;
  } finally {
    pump.stop();
    await pumping;
  }
  // Nothing of the round's messages is needed after unmasking (a new coordinator retries it).
  // A Redis error here must not throw the unmasked result away: the task then closes at its
  // deadline (the processes stop relaying) or when the next task opens, and the keys expire.
  await closeTask(link.redis, link.keys, task.id, link.processId).catch((caught: Error) => logger.warn({ taskId: task.id, err: caught.message }, 'secure aggregation: could not close the task (it closes at its deadline)'));
  await channel.dropKeys(Object.values(task.assignments)).catch((caught: Error) => logger.warn({ taskId: task.id, err: caught.message }, 'secure aggregation: could not drop the round\'s keys (they expire)'));
  const failures: Failure[] = secAgg.failures.slice();
  for (const f of failures) logger.warn({ round: task.round, clientId: f.clientId, code: f.code }, f.message);
  const accumulator = ctx.strategy.beginTrain(task.round, model.weights, ctx.layout);
  const folded = foldSecAgg(ctx, accumulator, { result });
  const metrics: RoundMetrics = { ...base, replied: folded, failed: failures, trainPhaseMs: Date.now() - startedAt };
  if (signal.aborted) return fail('the coordinator stopped or lost its lock', metrics);
  if (error !== undefined) return fail(error, metrics);
  const aggregated = aggregateFolded(ctx, task.round, accumulator, folded, failures);
  if ('reason' in aggregated) return fail(aggregated.reason, { ...metrics, aggregateMs: aggregated.aggregateMs ?? 0 });
  return { metrics: { ...metrics, aggregateMs: aggregated.aggregateMs, train: aggregated.result.metrics }, result: aggregated.result, taskId };
}

/**
 * Feeds what the processes forward into the round, every pollMs, and drops the clients of
 * processes that stopped heartbeating. Each line is checked (secagg-channel.ts); a bad one
 * is refused with its code (the server's `rejected` event) and never stops the round.
 */
class ReplyPump {
  private read = 0;
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly ctx: SyncContext,
    private readonly link: ClusterLink,
    private readonly task: ClusterTask,
    private readonly channel: SecAggChannel,
    private readonly secAgg: SecAggRound,
    private readonly live: Set<string>,
  ) {}

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  async run(): Promise<void> {
    const pollMs = this.ctx.options.cluster!.pollMs;
    while (!this.stopped) {
      try {
        for (const line of await this.channel.readForwarded(this.read)) {
          this.read++;
          this.dispatch(line);
        }
        await this.followMembers();
      } catch (error) {
        this.ctx.logger.warn({ taskId: this.task.id, err: (error as Error).message }, 'secure aggregation: Redis unavailable while following the round');
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, pollMs);
      });
      this.wake = null;
    }
  }

  private dispatch(line: string): void {
    let clientId: string | null = null;
    try {
      const forwarded = parseForwarded(line);
      const { processId } = forwarded;
      const mine = (id: string): string => {
        if (this.task.assignments[id] !== processId) throw new FedkitError('not-selected', `process ${processId} forwarded for client ${id}, which is not its client in this round`);
        return id;
      };
      if (forwarded.kind === 'masked') {
        for (const id of forwarded.clients) this.secAgg.settle(mine(id));
        return;
      }
      clientId = mine(forwarded.clientId);
      if (forwarded.kind === 'drop') this.secAgg.drop(clientId, forwarded.code, forwarded.message);
      else {
        this.secAgg.onReply(clientId, forwarded.message, () => {
          throw new FedkitError('invalid-message', 'secagg-reply: in cluster mode masked input reaches the coordinator only as its process\'s masked sum');
        });
      }
    } catch (error) {
      const code = error instanceof FedkitError ? error.code : 'internal';
      this.ctx.logger.warn({ taskId: this.task.id, clientId, code }, `secure aggregation: refused a forwarded message: ${(error as Error).message}`);
      this.ctx.rejected(clientId, error);
    }
  }

  /** Clients of processes that stopped heartbeating are drop-outs. */
  private async followMembers(): Promise<void> {
    const members = await liveMembers(this.link.redis, this.link.keys, this.ctx.logger);
    for (const processId of [...this.live]) if (!members.has(processId)) this.live.delete(processId);
    for (const [clientId, processId] of Object.entries(this.task.assignments)) {
      if (!this.live.has(processId)) this.secAgg.drop(clientId, 'client-disconnected', `its server process ${processId} stopped during the round`);
    }
  }
}
