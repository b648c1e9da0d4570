/**
 * `startWebClient`: a federated client in a browser in one call. It checks the app's data
 * first (a wrong shape fails here, naming the expected shape), then starts a training
 * worker — or the same runner on the main thread where workers are unavailable — which
 * chooses the backend, loads the IndexedDB identity and joins the server. The app listens
 * to events (backend, state, round, progress, ...) and can pause, resume and stop.
 */
import type { LocalDataset } from '@fedkit/client-core';
import { FedkitError } from '@fedkit/protocol';
import type { WebBackend, WebBackendInfo } from './backend.js';
import { toLocalDataset, type ExpectedShape, type WebDataSource } from './data-source.js';
import type { RunnerCommand, RunnerConfig, RunnerMessage, WebClientEvents } from './messages.js';
import { createSessionRunner } from './session-runner.js';

export interface WebClientOptions {
  /** The Fedkit server. @default the page's origin */
  serverUrl?: string;
  /** Local training data: typed arrays, a LocalDataset, a tf.data dataset or an (async) iterator of examples. */
  train: WebDataSource;
  /** Local held-out data for federated evaluation. */
  test?: WebDataSource;
  /** When the app knows the model's input, data that does not fit is refused before connecting. */
  expectedShape?: ExpectedShape;
  /** 'auto' = feature detection (webgpu → wasm → webgl → cpu). @default 'auto' */
  backend?: WebBackend | 'auto';
  /** URL of the folder holding the tfjs `.wasm` files, ending in '/'. @default `${serverUrl}/fedkit/tfjs-wasm/` */
  wasmPaths?: string;
  /** 'auto' trains in a Web Worker when the browser has them, else on the main thread. @default 'auto' */
  worker?: 'auto' | 'never';
  /** URL of the worker script. @default the package's worker module (the bundle itself for the prebuilt bundle) */
  workerUrl?: string | URL;
  /** Client id; the stored one (or a new random one) otherwise. */
  clientId?: string;
  /** IndexedDB key under which the identity key pair is kept. @default 'default' */
  identityKey?: string;
  /** Reconnection backoff. @default { initialDelayMs: 500, maxDelayMs: 10000 } */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Enrollment token for a server that requires one (`fedkit token create`). */
  authToken?: string;
}

export interface WebClient {
  /** The backend training runs on, and why. */
  readonly backend: WebBackendInfo;
  /** Where training runs. */
  readonly mode: 'worker' | 'main-thread';
  readonly clientId: string;
  /** Hex of the Ed25519 identity public key (kept in IndexedDB). */
  readonly identityPublicKey: string;
  readonly identityPersisted: boolean;
  /** Resolves when the server finishes training; rejects on a fatal error (`error` event). */
  readonly finished: Promise<WebClientEvents['finished']>;
  on<K extends keyof WebClientEvents>(event: K, listener: (payload: WebClientEvents[K]) => void): () => void;
  /** Holds local training before the next batch until `resume`. */
  pause(): void;
  resume(): void;
  /** Leaves the federation and frees the worker. */
  stop(): void;
}

let defaultWorkerUrl: string | URL | null = null;

/** Sets the worker script used when `workerUrl` is not given (the prebuilt bundle points it at itself). */
export function setDefaultWorkerUrl(url: string | URL): void {
  defaultWorkerUrl = url;
}

interface Channel {
  send(command: RunnerCommand): void;
  close(): void;
}

/**
 * The training worker: the app's `workerUrl`, else the bundle's own URL, else this package's
 * worker module. The last is written as the literal `new Worker(new URL(...), ...)` so that
 * bundlers (Vite, webpack 5) recognise it and bundle the worker with its imports.
 */
function createWorker(option: string | URL | undefined): { worker: Worker; url: string } {
  const explicit = option ?? defaultWorkerUrl;
  if (explicit !== null) return { worker: new Worker(explicit, { type: 'module', name: 'fedkit-training' }), url: String(explicit) };
  // Bundlers only see this with literal arguments: keep the URL and options inline.
  return { worker: new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'fedkit-training' }), url: './worker.js' };
}

function workerChannel(option: string | URL | undefined, onMessage: (m: RunnerMessage) => void, onError: (reason: string) => void): Channel {
  const { worker, url } = createWorker(option);
  worker.addEventListener('message', (event: MessageEvent<RunnerMessage>) => onMessage(event.data));
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    onError(event.message || `the worker script ${url} could not start`);
  });
  return { send: (command) => worker.postMessage(command), close: () => worker.terminate() };
}

function mainThreadChannel(onMessage: (m: RunnerMessage) => void): Channel {
  // Deliver asynchronously, as a worker would, so listeners see one order either way.
  const runner = createSessionRunner((message) => queueMicrotask(() => onMessage(message)));
  return { send: (command) => runner.handle(command), close: () => undefined };
}

/**
 * Starts a browser client and resolves once its backend is running and its identity is
 * loaded (training itself proceeds in the background, reported through events).
 *
 * @example
 * const client = await startWebClient({ train: { x: pixels, y: labels, xShape: [784], numClasses: 10 } });
 * client.on('progress', (p) => console.log(p.round, p.loss));
 */
export async function startWebClient(options: WebClientOptions): Promise<WebClient> {
  const train: LocalDataset = await toLocalDataset(options.train, options.expectedShape);
  const test = options.test === undefined ? undefined : await toLocalDataset(options.test, options.expectedShape);
  const origin = (globalThis as { location?: { origin: string } }).location?.origin;
  const serverUrl = options.serverUrl ?? origin;
  if (serverUrl === undefined) throw new TypeError('serverUrl is required outside a page');
  const wasmPaths = options.wasmPaths ?? new URL('/fedkit/tfjs-wasm/', serverUrl).href;
  const useWorker = options.worker !== 'never' && typeof Worker !== 'undefined';
  const listeners = new Map<keyof WebClientEvents, Set<(payload: never) => void>>();
  // Events are held until the app had a turn to subscribe after `await startWebClient(...)`.
  let held: Array<[keyof WebClientEvents, unknown]> | null = [];
  const dispatch = (event: keyof WebClientEvents, payload: unknown): void => {
    if (held !== null) held.push([event, payload]);
    else for (const listener of listeners.get(event) ?? []) (listener as (p: unknown) => void)(payload);
  };
  let settleFinished!: { resolve: (v: WebClientEvents['finished']) => void; reject: (e: Error) => void };
  const finished = new Promise<WebClientEvents['finished']>((resolve, reject) => (settleFinished = { resolve, reject }));
  finished.catch(() => undefined);

  const ready = new Promise<Extract<RunnerMessage, { type: 'ready' }> & { mode: 'worker' | 'main-thread'; channel: Channel }>((resolve, reject) => {
    let mode: 'worker' | 'main-thread' = useWorker ? 'worker' : 'main-thread';
    let channel: Channel;
    let isReady = false;
    const onMessage = (message: RunnerMessage): void => {
      if (message.type === 'ready') {
        isReady = true;
        resolve({ ...message, mode, channel });
      } else if (message.type === 'failed') {
        channel.close();
        reject(new FedkitError(message.code as never, message.message, message.details));
      } else {
        if (message.event === 'finished') settleFinished.resolve(message.payload as WebClientEvents['finished']);
        if (message.event === 'error') {
          const p = message.payload as WebClientEvents['error'];
          settleFinished.reject(new FedkitError(p.code as never, p.message, p.details));
        }
        dispatch(message.event, message.payload);
      }
    };
    const config = (): RunnerConfig => ({
      serverUrl,
      backend: options.backend ?? 'auto',
      wasmPaths,
      identityKey: options.identityKey ?? 'default',
      ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
      ...(options.authToken === undefined ? {} : { authToken: options.authToken }),
      reconnect: { initialDelayMs: options.reconnect?.initialDelayMs ?? 500, maxDelayMs: options.reconnect?.maxDelayMs ?? 10_000 },
      mode,
    });
    const startCommand = (): RunnerCommand => ({ type: 'start', config: config(), train, ...(test === undefined ? {} : { test }) });
    const fallBack = (reason: string): void => {
      if (isReady) {
        dispatch('log', { level: 'error', message: `training worker failed: ${reason}` });
        return;
      }
      channel.close();
      mode = 'main-thread';
      dispatch('log', { level: 'warn', message: `training on the main thread: the worker failed (${reason})` });
      channel = mainThreadChannel(onMessage);
      channel.send(startCommand());
    };
    channel = useWorker ? workerChannel(options.workerUrl, onMessage, fallBack) : mainThreadChannel(onMessage);
    channel.send(startCommand());
  });

  const started = await ready;
  setTimeout(() => {
    const events = held ?? [];
    held = null;
    for (const [event, payload] of events) dispatch(event, payload);
  }, 0);
  return {
    backend: started.backend,
    mode: started.mode,
    clientId: started.clientId,
    identityPublicKey: started.identityPublicKey,
    identityPersisted: started.identityPersisted,
    finished,
    on(event, listener) {
      let set = listeners.get(event);
      if (set === undefined) listeners.set(event, (set = new Set()));
      set.add(listener as (payload: never) => void);
      return () => set.delete(listener as (payload: never) => void);
    },
    pause: () => started.channel.send({ type: 'pause' }),
    resume: () => started.channel.send({ type: 'resume' }),
    stop() {
      started.channel.send({ type: 'stop' });
      // Let the runner say goodbye to the server before the worker goes.
      setTimeout(() => started.channel.close(), 100);
    },
  };
}
