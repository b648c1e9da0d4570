/**
 * Follows a task the coordinator opened (a training round or a federated evaluation) until
 * every selected client has answered or failed, `target` have answered, or the deadline
 * passes; a process that died fails its unreported clients. Then closes the task, so no
 * report lands after, and reads the last reports. Aborted (this coordinator stops or lost
 * its lock), it leaves the task open: the next coordinator finishes it. Redis errors while
 * following are waited out up to the deadline (plus a heartbeat period).
 */
import type { EvaluateReply, Failure } from '@fedkit/aggregation';
import type { SyncContext } from '../sync/sync-context.js';
import type { ClusterLink } from './cluster-link.js';
import { liveMembers } from './membership.js';
import { closeTask, readEvents, readTask, type ClusterTask } from './round-task.js';

export interface FollowedTask {
  answered: Set<string>;
  failed: Map<string, Failure>;
  /** Evaluation replies the processes reported (evaluate tasks). */
  evaluations: EvaluateReply[];
  /** Why the task was lost (Redis lost it, or stayed unavailable), else null. */
  lost: string | null;
}

export async function followTask(ctx: Pick<SyncContext, 'options' | 'logger'>, link: ClusterLink, task: ClusterTask, target: number, signal: AbortSignal): Promise<FollowedTask> {
  const { redis, keys } = link;
  const cluster = ctx.options.cluster!;
  const selected = Object.keys(task.assignments).length;
  const out: FollowedTask = { answered: new Set(), failed: new Map(), evaluations: [], lost: null };
  let read = 0;
  const absorb = async (): Promise<void> => {
    const { events, lines } = await readEvents(redis, keys, task.id, read, ctx.logger);
    read += lines;
    for (const event of events) {
      for (const id of event.answered) out.answered.add(id);
      for (const f of event.failed) if (!out.answered.has(f.clientId)) out.failed.set(f.clientId, f);
      out.evaluations.push(...(event.evaluations ?? []));
    }
  };
  while (!signal.aborted) {
    try {
      await absorb();
      if (out.answered.size >= target || out.answered.size + out.failed.size >= selected) break;
      if (Date.now() >= task.deadlineAt) break;
      const members = await liveMembers(redis, keys, ctx.logger);
      for (const [clientId, processId] of Object.entries(task.assignments)) {
        if (!members.has(processId) && !out.answered.has(clientId) && !out.failed.has(clientId)) {
          out.failed.set(clientId, { clientId, code: 'client-disconnected', message: `its server process ${processId} stopped during the round` });
        }
      }
      const now = await readTask(redis, keys);
      if (now.openId !== task.id) {
        // Closed, with its record still there: by a predecessor that died after closing it,
        // or that lost the lock late; its reports are final. Gone: Redis lost it.
        if (now.task?.id !== task.id) out.lost = 'the round in flight was lost from Redis (Redis restarted?)';
        break;
      }
    } catch (error) {
      ctx.logger.warn({ taskId: task.id, err: (error as Error).message }, 'cluster: Redis unavailable while following a round; waiting');
      if (Date.now() >= task.deadlineAt + cluster.heartbeatTtlMs) {
        out.lost = 'Redis was unavailable until past the round deadline';
        break;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, cluster.pollMs));
  }
  // Stopped or lost the lock: the task stays open for the next coordinator to finish.
  if (signal.aborted) return out;
  await closeTask(redis, keys, task.id, link.processId);
  await absorb();
  return out;
}
