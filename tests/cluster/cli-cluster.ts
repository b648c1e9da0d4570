/**
 * What the cluster fault tests share: `fedkit server --cluster-workers 3 --redis-url …` on a
 * tiny model, Node clients whose update is a distinct power of two (so the aggregate says
 * exactly whose updates it holds), and a record of which train-results the server
 * acknowledged and which global model each round handed out.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { FedkitClient, type ClientSocket, type LocalTrainer } from '@fedkit/client-core';
import type { RoundMetrics } from '@fedkit/server';
import { runCli, type CliProcess } from '../helpers/cli.js';
import { tinyModel } from '../helpers/federation.js';
import { writeServerDir } from '../helpers/server-dir.js';

export interface ClusterRun {
  cli: CliProcess;
  port: number;
  dataDir: string;
  clients: FedkitClient[];
  /** round → ids whose train-result the server acknowledged (ok). */
  acked: Map<number, Set<string>>;
  /** round → the global model's first weight handed out for it. */
  globalAt: Map<number, number>;
  /** Resolves when `count` acks of `round` have arrived. */
  acks(round: number, count: number): Promise<void>;
  /** Resolves when `count` clients are training `round` (with `gateRound`, held until released). */
  training(round: number, count: number): Promise<void>;
  /** Lets a held client of `gateRound` return its update. */
  release(clientId: string): void;
  metrics(): RoundMetrics[];
  finalWeight0(): number;
}

/** The update of client i: 2^i in every coordinate, one example each. */
export const updateOf = (i: number): number => 2 ** i;

/**
 * Starts the group and the clients. In `gateRound` (if given) each client holds its update
 * until `release(clientId)`, so a test decides exactly whose updates are in before a kill.
 */
export async function startClusterRun(
  redisUrl: string,
  federationId: string,
  clientCount: number,
  federation: Record<string, unknown> = {},
  gateRound?: number,
  /** Each client's held-out examples (0: it takes no part in federated evaluation) and how long an evaluation takes. */
  evaluation: { numEvalExamples: number; delayMs: number } = { numEvalExamples: 0, delayMs: 0 },
): Promise<ClusterRun> {
  const { config, dataDir } = await writeServerDir('fedkit-cluster-', tinyModel, {
    rounds: 3,
    minClients: clientCount,
    evaluate: { every: 0 },
    roundDeadlineMs: 8000,
    cluster: { federationId, pollMs: 25, coordinatorLockTtlMs: 800, heartbeatTtlMs: 800 },
    ...federation,
  });
  const cli = runCli(['server', '--config', config, '--data-dir', dataDir, '--cluster-workers', '3', '--redis-url', redisUrl]);
  const port = Number((await cli.waitForLine(/listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  // Clients connect once all three workers listen, so node:cluster spreads them evenly.
  while (cli.stdout.filter((line) => line.includes('listening on http://')).length < 3) {
    if (cli.child.exitCode !== null) throw new Error(`fedkit exited (${cli.child.exitCode}) before 3 workers listened:\n${cli.stderr.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const acked = new Map<number, Set<string>>();
  const globalAt = new Map<number, number>();
  const waiters: { round: number; count: number; resolve: () => void }[] = [];
  const started = new Map<number, Set<string>>();
  const startWaiters: { round: number; count: number; resolve: () => void }[] = [];
  const gates = new Map<string, () => void>();
  const released = new Set<string>();
  const noteAck = (round: number, clientId: string): void => {
    const set = acked.get(round) ?? new Set<string>();
    set.add(clientId);
    acked.set(round, set);
    for (const w of waiters.slice()) if (w.round === round && set.size >= w.count) w.resolve();
  };
  const clients = Array.from({ length: clientCount }, (_, i) => {
    const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], autoConnect: false, reconnection: true, forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 200 }) as ClientSocket;
    const emitWithAck = socket.emitWithAck.bind(socket) as (event: string, ...args: unknown[]) => Promise<unknown>;
    (socket as unknown as { emitWithAck: typeof emitWithAck }).emitWithAck = async (event, ...args) => {
      const reply = await emitWithAck(event, ...args);
      if (event === 'train-result' && (reply as { ok?: boolean }).ok === true) noteAck((args[0] as { round: number }).round, `c${i}`);
      return reply;
    };
    const trainer: LocalTrainer = {
      numExamples: 1,
      numEvalExamples: evaluation.numEvalExamples,
      async prepare() {},
      async train(global, _config, { round }) {
        globalAt.set(round, global[0]!);
        const id = `c${i}`;
        const set = started.get(round) ?? new Set<string>();
        set.add(id);
        started.set(round, set);
        for (const w of startWaiters.slice()) if (w.round === round && set.size >= w.count) w.resolve();
        if (round === gateRound && !released.has(id)) await new Promise<void>((resolve) => gates.set(id, resolve));
        return { update: new Float32Array(global.length).fill(updateOf(i)), numExamples: 1, metrics: { loss: 1 } };
      },
      async evaluate() {
        if (evaluation.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, evaluation.delayMs));
        return { loss: 1, accuracy: 0.5, numExamples: evaluation.numEvalExamples };
      },
    };
    const client = new FedkitClient({ socket, clientId: `c${i}`, trainer, platform: 'node', backend: 'test' });
    void client.start().catch(() => undefined);
    return client;
  });
  return {
    cli,
    port,
    dataDir,
    clients,
    acked,
    globalAt,
    training: (round, count) =>
      new Promise((resolve) => {
        if ((started.get(round)?.size ?? 0) >= count) resolve();
        else startWaiters.push({ round, count, resolve });
      }),
    release: (clientId) => {
      released.add(clientId);
      gates.get(clientId)?.();
    },
    acks: (round, count) =>
      new Promise((resolve) => {
        if ((acked.get(round)?.size ?? 0) >= count) resolve();
        else waiters.push({ round, count, resolve });
      }),
    metrics: () => (JSON.parse(readFileSync(join(dataDir, 'metrics.json'), 'utf8')) as { rounds: RoundMetrics[] }).rounds,
    finalWeight0: () => readFileSync(join(dataDir, 'model', 'weights.bin')).readFloatLE(0),
  };
}

/** The clients whose updates a FedAvg round folded, read from the model change and the reply count. */
export function foldedClients(before: number, after: number, replied: number): string[] {
  const sum = Math.round((after - before) * replied);
  const ids: string[] = [];
  for (let i = 0; 2 ** i <= sum; i++) if (sum & (2 ** i)) ids.push(`c${i}`);
  return ids;
}
