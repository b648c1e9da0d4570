/**
 * One virtual client inside a worker: a real FedkitClient over a real socket.io-client
 * socket, with a light LocalTrainer that holds no data. When the server asks it to train it
 * decides, from seeded draws, whether to drop out (disconnect, then rejoin) or straggle
 * (reply late, by a seeded delay), and otherwise hands the job to the pool's scheduler and
 * returns its result. With churn it also follows its seeded online/offline timeline
 * (churn.ts), disconnecting its socket when it goes offline and reconnecting when it is back.
 * The DP mods and secure aggregation a production client runs are the FedkitClient's own,
 * driven by the server's train config; an attacker adds its attack mod outermost.
 */
import { io } from 'socket.io-client';
import { FedkitClient, type ClientSocket, type LocalTrainer } from '@fedkit/client-core';
import { nodeCrc32 } from '@fedkit/client-node';
import { FedkitError, isErrorCode, type WireTrainConfig } from '@fedkit/protocol';
import { attackMod } from './attack.js';
import { churnPeriods } from './churn.js';
import { SEED_PURPOSE, clientIdOf, derivedRandom, derivedUniform } from './seeds.js';
import type { JobOutcome, SimWorkerData } from './worker-messages.js';

/** Runs a training job somewhere in the pool and resolves with its outcome (aborting `signal` cancels a queued job). */
export type SubmitJob = (clientIndex: number, round: number, config: WireTrainConfig, weights: Float32Array, signal: AbortSignal) => Promise<JobOutcome>;

export interface VirtualClient {
  readonly client: FedkitClient;
  /** Follows the churn timeline from `epochMs` on (no-op without churn). */
  startChurn(epochMs: number): void;
  stop(): void;
}

/** Delay after a simulated drop-out before the client reconnects and rejoins (ms). */
const REJOIN_DELAY_MS = 20;

/** Connects virtual client `index`; it joins the server as `clientIdOf(index, K)`. */
export function startVirtualClient(index: number, data: SimWorkerData, submit: SubmitJob): VirtualClient {
  // Reconnects like a real client after a connection loss (e.g. a missed heartbeat while the
  // process was suspended); a simulated drop-out disconnects on purpose and rejoins below.
  const socket = io(data.serverUrl, {
    transports: ['websocket'],
    autoConnect: false,
    forceNew: true,
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 2000,
  }) as ClientSocket;
  let stopped = false;
  let finished = false;
  /** Churn's state: an offline client never reconnects, whatever else asks it to. */
  let online = true;
  const reconnectSoon = (): void => {
    setTimeout(() => {
      if (!stopped && !finished && online) socket.connect();
    }, REJOIN_DELAY_MS);
  };
  const trainer: LocalTrainer = {
    numExamples: data.numExamples[index]!,
    numEvalExamples: 0,
    async prepare() {},
    async train(global, config, context) {
      const { seed, faults } = data;
      if (faults.dropout > 0 && derivedUniform(seed, SEED_PURPOSE.dropout, index, context.round) < faults.dropout) {
        // A device that vanishes mid-round: the server sees the disconnect; it comes back later.
        socket.disconnect();
        reconnectSoon();
        throw new FedkitError('client-disconnected', `simulated drop-out in round ${context.round}`);
      }
      if (faults.straggler > 0 && derivedUniform(seed, SEED_PURPOSE.straggler, index, context.round) < faults.straggler) {
        await sleep(stragglerDelayMs(data, index, context.round), context.signal);
      }
      const outcome = await submit(index, context.round, config, global, context.signal);
      if (!outcome.ok) throw new FedkitError(isErrorCode(outcome.code) ? outcome.code : 'training-failed', outcome.message);
      return { update: outcome.update, numExamples: outcome.numExamples, metrics: outcome.metrics };
    },
    evaluate() {
      return Promise.reject(new FedkitError('data-invalid', 'virtual clients do not evaluate; the simulation evaluates centrally'));
    },
  };
  const client = new FedkitClient({
    socket,
    clientId: clientIdOf(index, data.numClients),
    trainer,
    platform: 'node',
    backend: 'simulated',
    backendReason: `virtual client ${index} in simulation worker ${data.workerIndex}`,
    checksum: nodeCrc32,
    // The client's DP noise, secure-aggregation keys and masks: seeded per client (simulation only).
    random: derivedRandom(data.seed, SEED_PURPOSE.clientRandom, index, 0),
    ...(data.attack?.clients.includes(index) === true ? { mods: [attackMod(data.attack, data.seed, index)] } : {}),
  });
  client.on('finished', () => (finished = true));
  socket.on('disconnect', (reason) => {
    // socket.io does not reconnect after a server-side disconnect; a device would retry.
    if (reason === 'io server disconnect') reconnectSoon();
  });
  let churnTimer: ReturnType<typeof setTimeout> | null = null;
  void client.start().catch(() => undefined);
  return {
    client,
    startChurn(epochMs) {
      if (data.churn === null || churnTimer !== null) return;
      // Goes offline by closing its socket (the server fails any task it holds) and comes
      // back by reconnecting and rejoining, on its seeded timeline from the shared epoch.
      const periods = churnPeriods(data.seed, index, data.churn);
      const next = (): void => {
        // Skips the periods already over (a replacement worker starts late on the shared epoch).
        const now = Date.now() - epochMs;
        let period = periods.next().value;
        while (period.endMs <= now) period = periods.next().value;
        online = period.online;
        if (!stopped && !finished) {
          if (online) socket.connect();
          else socket.disconnect();
        }
        churnTimer = setTimeout(next, period.endMs - now);
      };
      next();
    },
    stop() {
      stopped = true;
      if (churnTimer !== null) clearTimeout(churnTimer);
      client.stop();
    },
  };
}

/** A straggler's delay: fixed, or seeded-uniform in [stragglerDelayMs, stragglerDelayMaxMs]. */
function stragglerDelayMs(data: SimWorkerData, index: number, round: number): number {
  const { stragglerDelayMs: low, stragglerDelayMaxMs: high } = data.faults;
  if (high === undefined || high <= low) return low;
  return low + Math.floor(derivedUniform(data.seed, SEED_PURPOSE.stragglerDelay, index, round) * (high - low + 1));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    }, { once: true });
  });
}
