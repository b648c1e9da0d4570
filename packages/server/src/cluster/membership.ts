/**
 * Which processes are alive and which clients each holds. Every process writes its client
 * list under `proc:<id>` with a TTL on each heartbeat; a process that dies stops writing and
 * its clients vanish from the union when the key expires. The coordinator samples from the
 * union of live processes' clients (clientUnion).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { ClusterKeys } from './keys.js';
import { memberRecordSchema, parseRecord } from './redis-records.js';

export interface MemberClient {
  clientId: string;
  numExamples: number;
  numEvalExamples: number;
}

export interface MemberRecord {
  processId: string;
  /** When the process wrote it (its clock, ms). */
  at: number;
  /** The model version the process holds (after a Redis data loss the newest coordinates). */
  modelVersion: number;
  clients: MemberClient[];
}

/** Writes this process's record with a TTL and registers its id. */
export async function heartbeat(redis: Redis, keys: ClusterKeys, record: MemberRecord, ttlMs: number): Promise<void> {
  await redis.multi().set(keys.proc(record.processId), JSON.stringify(record), 'PX', ttlMs).sadd(keys.procs, record.processId).exec();
}

/** Removes this process's record (on close). */
export async function leave(redis: Redis, keys: ClusterKeys, processId: string): Promise<void> {
  await redis.multi().del(keys.proc(processId)).srem(keys.procs, processId).exec();
}

/**
 * The live processes' records, by process id; forgets the expired ones. A record that is
 * not a valid member record is left out (its key expires unless its writer renews it), with
 * a warning.
 */
export async function liveMembers(redis: Redis, keys: ClusterKeys, logger: Pick<Logger, 'warn'>): Promise<Map<string, MemberRecord>> {
  const ids = await redis.smembers(keys.procs);
  const out = new Map<string, MemberRecord>();
  if (ids.length === 0) return out;
  const values = await redis.mget(ids.map((id) => keys.proc(id)));
  const gone: string[] = [];
  ids.forEach((id, i) => {
    const raw = values[i];
    if (raw === null || raw === undefined) gone.push(id);
    else {
      try {
        out.set(id, parseRecord(memberRecordSchema, raw, `member record of process ${id}`));
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'cluster: left out an invalid member record');
      }
    }
  });
  if (gone.length > 0) await redis.srem(keys.procs, ...gone);
  return out;
}

/**
 * The clients of the union, each once (a client that reconnected elsewhere counts where it
 * was seen last), with the process that holds it, sorted by client id.
 *
 * Every client counts, busy or not: the coordinator samples only between tasks, so a client
 * still busy then is busy with a task already closed (a straggler), as in one process,
 * where a closed phase frees all its clients. Its process closes that local round before it
 * takes up the next task, which frees it. (A busy flag in the heartbeat would also be up to
 * one heartbeat stale: sampling on it left out clients that had already answered.)
 */
export function clientUnion(members: ReadonlyMap<string, MemberRecord>): { client: MemberClient; processId: string }[] {
  const best = new Map<string, { client: MemberClient; processId: string; at: number }>();
  for (const record of members.values()) {
    for (const client of record.clients) {
      const seen = best.get(client.clientId);
      if (seen === undefined || seen.at < record.at) best.set(client.clientId, { client, processId: record.processId, at: record.at });
    }
  }
  return [...best.values()]
    .sort((a, b) => (a.client.clientId < b.client.clientId ? -1 : a.client.clientId > b.client.clientId ? 1 : 0))
    .map(({ client, processId }) => ({ client, processId }));
}
