/**
 * Starts a benchmark's client processes: `clients` client ids spread round-robin over
 * `procs` child processes running one script, and waits until every process says it is
 * ready (its first IPC message). Shared by bench:round and bench:secagg (real FedkitClients
 * of bench/round-clients.ts) and bench:load (thousands of light clients of
 * bench/load-clients.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildConfig } from './round-clients.js';

export interface ClientProcessOptions extends Omit<ChildConfig, 'clientIds'> {
  procs: number;
  clients: number;
}

export interface ClientScript<C> {
  /** The child's module; it gets its config as JSON in argv[2]. */
  script: URL;
  procs: number;
  clients: number;
  /** The config of the process that hosts `clientIds`. */
  configFor(clientIds: string[], proc: number): C;
  /** Extra node flags for the children (they inherit the parent's tsx loader). */
  execArgv?: string[];
}

/** Client ids `bench-<k>` of process `p` out of `procs`, round-robin. */
export function clientIdsOf(p: number, procs: number, clients: number): string[] {
  const clientIds: string[] = [];
  for (let k = p; k < clients; k += procs) clientIds.push(`bench-${k}`);
  return clientIds;
}

/**
 * Forks the processes into `children` (so callers can reach them early, e.g. to kill them
 * when something fails) and resolves once all are ready; rejects when one exits first.
 */
export async function forkClientScript<C>(options: ClientScript<C>, children: ChildProcess[] = []): Promise<ChildProcess[]> {
  const ready: Promise<void>[] = [];
  for (let p = 0; p < options.procs; p++) {
    const config = options.configFor(clientIdsOf(p, options.procs, options.clients), p);
    const child = fork(fileURLToPath(options.script), [JSON.stringify(config)], {
      stdio: 'inherit',
      execArgv: [...process.execArgv, ...(options.execArgv ?? [])],
    });
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

/** The FedkitClients of bench/round-clients.ts (bench:round, bench:secagg). */
export function forkClientProcesses(options: ClientProcessOptions, children: ChildProcess[] = []): Promise<ChildProcess[]> {
  const { procs, clients, ...shared } = options;
  return forkClientScript<ChildConfig>({ script: new URL('./round-clients.ts', import.meta.url), procs, clients, configFor: (clientIds) => ({ ...shared, clientIds }) }, children);
}
