/**
 * A training round in flight across the cluster. The coordinator writes the task (which
 * client trains, on which process, with which config and deadline) and marks it open; each
 * process trains its own assigned clients and reports through `reportPartial`, a Lua script
 * that stores the process's cumulative partial and an event (who answered, who failed) in
 * one step, and only while the task is still open. The coordinator closes the task (DEL
 * `open`) before it reads the reports, so every stored partial is seen and none arrives
 * after the combine: an update whose store succeeded is in the aggregate.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { EvaluateConfig, EvaluateReply, TrainConfig } from '@fedkit/aggregation';
import type { ErrorCode } from '@fedkit/protocol';
import type { Logger } from '../logger.js';
import type { ClusterKeys } from './keys.js';
import { clusterTaskSchema, parseRecord, taskEventSchema } from './redis-records.js';

export interface ClusterTask {
  /** `r<round>a<attempt>-<random>` (training) or `e<round>v<version>-<random>` (evaluation): see newTaskId. */
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

/**
 * A task's report keys live until this long after its deadline (a coordinator that died
 * mid-round leaves them; its successor finishes the round from them before they expire).
 */
const TASK_KEYS_KEPT_AFTER_DEADLINE_MS = 10 * 60_000;

/** The TTL for a task's report keys written now: until 10 minutes past its deadline. */
export function taskKeysTtlMs(task: Pick<ClusterTask, 'deadlineAt'>, now = Date.now()): number {
  return Math.max(0, task.deadlineAt - now) + TASK_KEYS_KEPT_AFTER_DEADLINE_MS;
}

const REPORT = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return 1`;

/** Stores a process's partial (may be empty bytes: failures only) and event; false when the task is closed. */
export async function reportPartial(redis: Redis, keys: ClusterKeys, task: Pick<ClusterTask, 'id' | 'deadlineAt'>, event: TaskEvent, partial: Buffer | null): Promise<boolean> {
  const result = await redis.eval(
    REPORT,
    3,
    keys.open,
    keys.partials(task.id),
    keys.events(task.id),
    task.id,
    event.processId,
    partial ?? '',
    JSON.stringify(event),
    String(taskKeysTtlMs(task)),
  );
  return result === 1;
}

const OPEN = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
return 1`;

/**
 * Writes the task and opens it for replies, if `coordinator` holds the lock (checked in the
 * same step, as for the shared state); false when it does not.
 */
export async function openTask(redis: Redis, keys: ClusterKeys, task: ClusterTask, coordinator: string): Promise<boolean> {
  return (await redis.eval(OPEN, 3, keys.lock, keys.task, keys.open, coordinator, JSON.stringify(task), task.id)) === 1;
}

/** A task id no other coordinator can produce: `<prefix>` (e.g. `r3a1`) and a random suffix. */
export function newTaskId(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function readTask(redis: Redis, keys: ClusterKeys): Promise<{ task: ClusterTask | null; openId: string | null }> {
  const [raw, openId] = await redis.mget(keys.task, keys.open);
  return { task: raw === null || raw === undefined ? null : parseRecord(clusterTaskSchema, raw, 'round task'), openId: openId ?? null };
}

const CLOSE = `if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end return 1`;

/**
 * Closes the task (if still open) so no report lands after this; only while `coordinator`
 * holds the lock (a coordinator that lost it must not close the task its successor follows).
 */
export async function closeTask(redis: Redis, keys: ClusterKeys, taskId: string, coordinator: string): Promise<void> {
  await redis.eval(CLOSE, 2, keys.lock, keys.open, coordinator, taskId);
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

/** Every process's latest partial for the task, by process id, still encoded (decode each with decodePartial). */
export async function readPartials(redis: Redis, keys: ClusterKeys, taskId: string): Promise<Map<string, Buffer>> {
  return new Map(Object.entries(await redis.hgetallBuffer(keys.partials(taskId))));
}

const DROP = `redis.call('DEL', KEYS[2], KEYS[3])
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw).id == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

/**
 * Deletes a recorded task's reports, and its record while it is still the current one (a
 * closed task whose record remains was not recorded yet: a new coordinator finishes it).
 */
export async function dropTaskKeys(redis: Redis, keys: ClusterKeys, taskId: string): Promise<void> {
  await redis.eval(DROP, 3, keys.task, keys.partials(taskId), keys.events(taskId), taskId);
}
