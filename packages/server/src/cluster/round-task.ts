/**
 * A training round in flight across the cluster. The coordinator writes the task (which
 * client trains, on which process, with which config and deadline) and marks it open; each
 * process trains its own assigned clients and reports through `reportPartial`, a Lua script
 * that stores the process's cumulative partial and an event (who answered, who failed) in
 * one step, and only while the task is still open. The coordinator closes the task (DEL
 * `open`) before it reads the reports, so every stored partial is seen and none arrives
 * after the combine: an update whose store succeeded is in the aggregate.
 */
import type { Redis } from 'ioredis';
import type { EvaluateConfig, EvaluateReply, TrainConfig } from '@fedkit/aggregation';
import type { ErrorCode } from '@fedkit/protocol';
import type { Logger } from '../logger.js';
import type { ClusterKeys } from './keys.js';
import { decodePartial, type EncodedPartial } from './partial-codec.js';
import { clusterTaskSchema, parseRecord, taskEventSchema } from './redis-records.js';

export interface ClusterTask {
  /** `r<round>a<attempt>` (training) or `e<round>v<version>` (evaluation). */
  id: string;
  /** @default 'train' */
  kind?: 'train' | 'evaluate';
  round: number;
  attempt: number;
  modelVersion: number;
  config: TrainConfig | EvaluateConfig;
  /** When the coordinator opened it (its clock, ms since the epoch). */
  startedAt?: number;
  /** Absolute deadline (the coordinator's clock, ms since the epoch). */
  deadlineAt: number;
  /** Training: the round closes once this many replies are stored (over-selection's m). */
  target?: number;
  /** Client id → the process that holds it. */
  assignments: Record<string, string>;
}

export interface TaskEvent {
  processId: string;
  answered: string[];
  failed: { clientId: string; code: ErrorCode; message: string }[];
  /** Evaluate tasks: the replies of the process's clients. */
  evaluations?: EvaluateReply[];
}

/** Leftover task keys expire after this (a coordinator that died mid-round leaves them). */
const TASK_KEY_TTL_MS = 10 * 60_000;

const REPORT = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return 1`;

/** Stores a process's partial (may be empty bytes: failures only) and event; false when the task is closed. */
export async function reportPartial(redis: Redis, keys: ClusterKeys, taskId: string, event: TaskEvent, partial: Buffer | null): Promise<boolean> {
  const result = await redis.eval(
    REPORT,
    3,
    keys.open,
    keys.partials(taskId),
    keys.events(taskId),
    taskId,
    event.processId,
    partial ?? '',
    JSON.stringify(event),
    String(TASK_KEY_TTL_MS),
  );
  return result === 1;
}

/** Writes the task and opens it for replies. */
export async function openTask(redis: Redis, keys: ClusterKeys, task: ClusterTask): Promise<void> {
  await redis.multi().set(keys.task, JSON.stringify(task)).set(keys.open, task.id).exec();
}

export async function readTask(redis: Redis, keys: ClusterKeys): Promise<{ task: ClusterTask | null; openId: string | null }> {
  const [raw, openId] = await redis.mget(keys.task, keys.open);
  return { task: raw === null || raw === undefined ? null : parseRecord(clusterTaskSchema, raw, 'round task'), openId: openId ?? null };
}

/** Closes the task (if still open) so no report lands after this. */
export async function closeTask(redis: Redis, keys: ClusterKeys, taskId: string): Promise<void> {
  await redis.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1`, 1, keys.open, taskId);
}

/**
 * The events reported so far, from index `from`, and how many lines were read (the next
 * `from`). An invalid line is skipped with a warning: its clients count as not answered.
 */
export async function readEvents(redis: Redis, keys: ClusterKeys, taskId: string, from: number, logger: Pick<Logger, 'warn'>): Promise<{ events: TaskEvent[]; lines: number }> {
  const lines = await redis.lrange(keys.events(taskId), from, -1);
  const events: TaskEvent[] = [];
  for (const line of lines) {
    try {
      events.push(parseRecord(taskEventSchema, line, `report of task ${taskId}`));
    } catch (error) {
      logger.warn({ taskId, err: (error as Error).message }, 'cluster: skipped an invalid task report');
    }
  }
  return { events, lines: lines.length };
}

/** Every process's latest partial for the task. */
export async function readPartials(redis: Redis, keys: ClusterKeys, taskId: string): Promise<EncodedPartial[]> {
  const all = await redis.hgetallBuffer(keys.partials(taskId));
  return Object.values(all).map((bytes) => decodePartial(bytes));
}

/** Deletes a finished task's reports. */
export async function dropTaskKeys(redis: Redis, keys: ClusterKeys, taskId: string): Promise<void> {
  await redis.del(keys.partials(taskId), keys.events(taskId));
}
