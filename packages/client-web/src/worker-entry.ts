/**
 * The training worker: a session runner that talks to the page with postMessage. Loaded by
 * `startWebClient` as a module worker (the prebuilt bundle loads itself in this role).
 */
import type { RunnerCommand, RunnerMessage } from './messages.js';
import { createSessionRunner } from './session-runner.js';

interface WorkerScope {
  postMessage(message: RunnerMessage): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<RunnerCommand>) => void): void;
}

/** Starts answering the page's commands in this worker. */
export function serveWorker(scope: WorkerScope = globalThis as unknown as WorkerScope): void {
  const runner = createSessionRunner((message) => scope.postMessage(message));
  scope.addEventListener('message', (event) => runner.handle(event.data));
}

/** True inside a dedicated worker. */
export function isWorkerScope(): boolean {
  const g = globalThis as { WorkerGlobalScope?: unknown; importScripts?: unknown; document?: unknown };
  return g.WorkerGlobalScope !== undefined && g.document === undefined;
}
