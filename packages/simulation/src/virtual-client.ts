/**
 * One virtual client inside a worker: a real FedkitClient over a real socket.io-client
 * socket, with a light LocalTrainer that holds no data. When the server asks it to train it
 * decides, from seeded draws, whether to drop out (disconnect, then rejoin) or straggle
 * (reply late), and otherwise hands the job to the pool's scheduler and returns its result.
 * The DP mods and secure aggregation a production client runs are the FedkitClient's own,
 * driven by the server's train config; an attacker adds its attack mod outermost.
 */
import { io } from 'socket.io-client';
import { FedkitClient, type ClientSocket, type LocalTrainer } from '@fedkit/client-core';
import { nodeCrc32 } from '@fedkit/client-node';
import { FedkitError, isErrorCode, type WireTrainConfig } from '@fedkit/protocol';
import { attackMod } from './attack.js';
import { SEED_PURPOSE, clientIdOf, derivedRandom, derivedUniform } from './seeds.js';
import type { JobOutcome, SimWorkerData } from './worker-messages.js';

/** Runs a training job somewhere in the pool and resolves with its outcome. */
export type SubmitJob = (clientIndex: number, round: number, config: WireTrainConfig, weights: Float32Array) => Promise<JobOutcome>;

export interface VirtualClient {
  readonly client: FedkitClient;
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
  const trainer: LocalTrainer = {
    numExamples: data.numExamples[index]!,
    numEvalExamples: 0,
    async prepare() {},
    async train(global, config, context) {
      const { seed, faults } = data;
      if (faults.dropout > 0 && derivedUniform(seed, SEED_PURPOSE.dropout, index, context.round) < faults.dropout) {
        // A device that vanishes mid-round: the server sees the disconnect; it comes back later.
        socket.disconnect();
        setTimeout(() => {
          if (!stopped) socket.connect();
        }, REJOIN_DELAY_MS);
        throw new FedkitError('client-disconnected', `simulated drop-out in round ${context.round}`);
      }
      if (faults.straggler > 0 && derivedUniform(seed, SEED_PURPOSE.straggler, index, context.round) < faults.straggler) {
        await sleep(faults.stragglerDelayMs, context.signal);
      }
      const outcome = await submit(index, context.round, config, global);
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
  let finished = false;
  client.on('finished', () => (finished = true));
  socket.on('disconnect', (reason) => {
    // socket.io does not reconnect after a server-side disconnect; a device would retry.
    if (reason === 'io server disconnect' && !finished) {
      setTimeout(() => {
        if (!stopped && !finished) socket.connect();
      }, REJOIN_DELAY_MS);
    }
  });
  void client.start().catch(() => undefined);
  return {
    client,
    stop() {
      stopped = true;
      client.stop();
    },
  };
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
