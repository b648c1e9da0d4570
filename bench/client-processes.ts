/**
 * Starts the benchmark's client processes (bench/round-clients.ts): `clients` real
 * FedkitClients spread round-robin over `procs` child processes, and waits until every
 * process says it is connected. Shared by bench:round and bench:secagg.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildConfig } from './round-clients.js';

export interface ClientProcessOptions extends Omit<ChildConfig, 'clientIds'> {
  procs: number;
  clients: number;
}

/** Forks the processes into `children` (so callers can reach them early) and resolves once all are ready. */
export async function forkClientProcesses(options: ClientProcessOptions, children: ChildProcess[] = []): Promise<ChildProcess[]> {
  const { procs, clients, ...shared } = options;
  const ready: Promise<void>[] = [];
  for (let p = 0; p < procs; p++) {
    const clientIds: string[] = [];
    for (let k = p; k < clients; k += procs) clientIds.push(`bench-${k}`);
    const config: ChildConfig = { ...shared, clientIds };
    const child = fork(fileURLToPath(new URL('./round-clients.ts', import.meta.url)), [JSON.stringify(config)], { stdio: 'inherit' });
    children.push(child);
    ready.push(
      new Promise((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`client process ${p} exited with code ${code} before it was ready`)));
      }),
    );
  }
  await Promise.all(ready);
  return children;
}
