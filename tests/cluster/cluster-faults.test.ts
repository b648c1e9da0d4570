/**
 * Cluster faults with real processes: `fedkit server --cluster-workers 3` on real Redis and
 * nine real Node clients. A worker killed with SIGKILL mid-round: its clients reconnect to
 * the others, the round completes, and every update the server acknowledged is in the model
 * (read back from the model itself: each client's update is a distinct power of two). The
 * coordinator killed or stopped cleanly: another process takes the lock and finishes the
 * round with the partial sums stored in Redis, so no acknowledged update is lost there either.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisCommand, startRedis, type RedisProcess } from '../helpers/redis.js';
import { foldedClients, startClusterRun, type ClusterRun } from './cli-cluster.js';

let redis: RedisProcess;
const runs: ClusterRun[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterEach((context) => {
  for (const run of runs.splice(0)) {
    // A failure shows what the processes said (FEDKIT_LOG_LEVEL=info for more).
    if (context.task.result?.state === 'fail') console.error(`fedkit output:\n${[...run.cli.stdout, ...run.cli.stderr].slice(-60).join('\n')}`);
    for (const c of run.clients) c.stop();
    if (run.cli.child.exitCode === null) run.cli.child.kill('SIGKILL');
  }
});
afterAll(async () => {
  await redis?.stop();
});

/** The pid in a process id (hostname:pid:random). */
const pidOf = (processId: string): number => Number(processId.split(':').at(-2));

/** The coordinator's pid, from the lock's value. */
function coordinatorPid(federationId: string): number {
  const [holder] = redisCommand(redis.port, ['GET', `fedkit:${federationId}:lock`]);
  if (holder === undefined) throw new Error('no coordinator holds the lock');
  return pidOf(holder);
}

/** Each registered worker's pid and the clients it holds (its heartbeat record). */
function workers(federationId: string): { pid: number; clients: string[] }[] {
  return redisCommand(redis.port, ['SMEMBERS', `fedkit:${federationId}:procs`]).map((id) => {
    const [record] = redisCommand(redis.port, ['GET', `fedkit:${federationId}:proc:${id}`]);
    const clients = record === undefined ? [] : (JSON.parse(record) as { clients: { clientId: string }[] }).clients.map((c) => c.clientId);
    return { pid: pidOf(id), clients };
  });
}

describe('cluster faults (fedkit server --cluster-workers 3)', () => {
  it('a worker killed mid-round: its clients reconnect, the round completes, no acknowledged update is lost', async () => {
    const run = await startClusterRun(redis.url, 'kill-worker', 9, { rounds: 4, sampling: { minFit: 3 } }, 2);
    runs.push(run);
    // Round 2: every client holds its update; pick a worker (not the coordinator) with two
    // or more clients, let one of them and every other worker's clients reply, then kill it.
    await run.training(2, 9);
    const coordinator = coordinatorPid('kill-worker');
    const victim = workers('kill-worker').find((w) => w.pid !== coordinator && w.clients.length >= 2);
    if (victim === undefined) throw new Error('no worker besides the coordinator holds two clients');
    const [ackedVictimClient, ...held] = victim.clients;
    const others = run.clients.map((_, i) => `c${i}`).filter((id) => !victim.clients.includes(id));
    for (const id of [ackedVictimClient!, ...others]) run.release(id);
    await run.acks(2, 1 + others.length);
    process.kill(victim.pid, 'SIGKILL');
    const ackedAtKill = new Set(run.acked.get(2));
    expect(ackedAtKill.has(ackedVictimClient!)).toBe(true);
    for (const id of held) run.release(id);
    expect(await run.cli.exited).toBe(0);
    const rounds = run.metrics().filter((r) => r.status === 'completed');
    expect(rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);
    const round2 = rounds[1]!;
    expect(round2.attempt).toBe(1);
    const folded2 = foldedClients(run.globalAt.get(2)!, run.globalAt.get(3)!, round2.replied);
    expect(folded2).toHaveLength(round2.replied);
    // Every update acknowledged in round 2 is in the model after round 2, including those
    // of the killed worker's clients acknowledged before the kill.
    for (const id of run.acked.get(2)!) expect(folded2).toContain(id);
    expect(folded2).toContain(ackedVictimClient);
    expect(folded2).toHaveLength(1 + others.length);
    // Its clients still training failed round 2 (and reconnected for round 3).
    const failed2 = round2.failed.map((f) => f.clientId);
    for (const id of held) expect(failed2).toContain(id);
    // The killed worker's clients came back (on the other workers or the new one) and took
    // part again: rounds 3 and 4 together folded all nine. (Round 3 may still have sampled
    // some of them on the dead worker, whose heartbeat had not expired yet.)
    const later = new Set([
      ...foldedClients(run.globalAt.get(3)!, run.globalAt.get(4)!, rounds[2]!.replied),
      ...foldedClients(run.globalAt.get(4)!, run.finalWeight0(), rounds[3]!.replied),
    ]);
    expect([...later].sort()).toEqual(run.clients.map((_, i) => `c${i}`).sort());
    expect(run.cli.stdout.join('\n')).toMatch(/worker \d+ died \(SIGKILL\); starting another/);
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)('the coordinator stopped mid-round (%s): another process takes over and finishes the round with every acknowledged update', async (signal) => {
    const federationId = `stop-coordinator-${signal}`;
    const run = await startClusterRun(redis.url, federationId, 6, { sampling: { minFit: 3 } }, 2);
    runs.push(run);
    // Round 2 is in flight (two updates acknowledged, four held) when the coordinator dies.
    await run.training(2, 6);
    run.release('c0');
    run.release('c1');
    await run.acks(2, 2);
    const pid = coordinatorPid(federationId);
    const onVictim = workers(federationId).find((w) => w.pid === pid)!.clients;
    // SIGKILL: it dies at once. SIGTERM: it shuts down cleanly, leaving the round open.
    process.kill(pid, signal);
    const ackedAtKill = new Set(run.acked.get(2));
    for (let i = 2; i < 6; i++) run.release(`c${i}`);
    expect(await run.cli.exited).toBe(0);
    const rounds = run.metrics().filter((r) => r.status === 'completed');
    expect(rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    // Round 2 was finished, not retried: the same attempt, from the model of round 1, with
    // the updates acknowledged before the kill (whichever process stored them) and those of
    // the surviving processes' clients; the dead coordinator's other clients failed it.
    expect(rounds[1]!.attempt).toBe(1);
    expect(rounds[1]!.modelVersion).toBe(2);
    const folded2 = foldedClients(run.globalAt.get(2)!, run.globalAt.get(3)!, rounds[1]!.replied);
    const failed2 = rounds[1]!.failed.map((f) => f.clientId);
    // Every update acknowledged in round 2 (before the stop, or, with SIGTERM, while the
    // process shut down) and every surviving process's client is in the model.
    for (const id of ackedAtKill) expect(folded2).toContain(id);
    for (const id of run.acked.get(2)!) expect(folded2).toContain(id);
    for (const id of run.clients.map((_, i) => `c${i}`).filter((id) => !onVictim.includes(id))) expect(folded2).toContain(id);
    // The stopped coordinator's other clients failed the round.
    for (const id of onVictim.filter((id) => !folded2.includes(id))) expect(failed2).toContain(id);
    if (signal === 'SIGKILL') expect(folded2.filter((id) => onVictim.includes(id)).sort()).toEqual(onVictim.filter((id) => ackedAtKill.has(id)).sort());
    expect(rounds[2]!.modelVersion).toBe(3);
  });
  it('SecAgg+: the coordinator SIGKILLed mid-round: another process retries the round from scratch, drops the dead attempt\'s keys, and training completes', async () => {
    const federationId = 'secagg-kill-coordinator';
    const run = await startClusterRun(redis.url, federationId, 6, { secureAggregation: { enabled: true }, sampling: { minFit: 3 } }, 2);
    runs.push(run);
    // Round 2 under SecAgg+: every client is training (so none has answered setup yet).
    await run.training(2, 6);
    const firstAttempt = JSON.parse(redisCommand(redis.port, ['GET', `fedkit:${federationId}:task`])[0]!) as { id: string; attempt: number; round: number };
    expect(firstAttempt).toMatchObject({ round: 2, attempt: 1 });
    process.kill(coordinatorPid(federationId), 'SIGKILL');
    for (let i = 0; i < 6; i++) run.release(`c${i}`);
    expect(await run.cli.exited).toBe(0);
    const rounds = run.metrics().filter((r) => r.status === 'completed');
    expect(rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    // The state machine died with the coordinator: round 2 was retried as a new attempt.
    expect(rounds[1]!.attempt).toBeGreaterThanOrEqual(2);
    expect(rounds[1]!.replied).toBeGreaterThanOrEqual(3);
    expect(rounds.map((r) => r.modelVersion)).toEqual([1, 2, 3]);
    // Nothing of the dead attempt (public keys, shares, masked sums) is left in Redis.
    expect(redisCommand(redis.port, ['KEYS', `fedkit:${federationId}:secagg:${firstAttempt.id}:*`])).toEqual([]);
  });
  it('the coordinator SIGKILLed during a federated evaluation: the round stays recorded (without the evaluation), training goes on', async () => {
    const federationId = 'kill-during-evaluation';
    const run = await startClusterRun(redis.url, federationId, 6, { rounds: 2, sampling: { minFit: 3 }, evaluate: { every: 1, fraction: 1, deadlineMs: 10_000 } }, undefined, { numEvalExamples: 2, delayMs: 1500 });
    runs.push(run);
    // Round 1 is published; its evaluation is out to the clients (each takes 1.5 s).
    await expect.poll(() => redisCommand(redis.port, ['GET', `fedkit:${federationId}:task`]).join(''), { timeout: 15_000, interval: 10 }).toContain('"kind":"evaluate"');
    process.kill(coordinatorPid(federationId), 'SIGKILL');
    expect(await run.cli.exited).toBe(0);
    const rounds = run.metrics();
    // Round 1 was recorded with the model (once), round 2 ran under the new coordinator.
    expect(rounds.filter((r) => r.status === 'completed').map((r) => [r.round, r.modelVersion])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(rounds[0]!.federatedEvaluation).toBeUndefined();
    expect(rounds.at(-1)!.federatedEvaluation?.numClients).toBeGreaterThanOrEqual(3);
  });
});
