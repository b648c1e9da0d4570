/**
 * tfjs backend selection in a browser, by feature detection (STYLE 7): WebGPU when
 * `navigator.gpu` yields an adapter, then WASM (SIMD; multithreaded only when the page is
 * cross-origin isolated), then WebGL, then the pure-JS cpu backend — or the one the app
 * forces. Each backend that is skipped adds its reason, so the app and the server (in the
 * hello) learn why a client trains where it does. The `.wasm` binaries come from
 * `wasmPaths` (by default the Fedkit server's `/fedkit/tfjs-wasm/`), never from a CDN.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmConvGradients, registerWasmMatMulGradients } from '@fedkit/client-core';
import { FedkitError } from '@fedkit/protocol';

/** The backends a browser client can train on, fastest first. */
export const WEB_BACKENDS = ['webgpu', 'wasm', 'webgl', 'cpu'] as const;
export type WebBackend = (typeof WEB_BACKENDS)[number];

export interface WebBackendOptions {
  /** 'auto' tries WEB_BACKENDS in order; a named one is used or fails with its reason. @default 'auto' */
  backend?: WebBackend | 'auto';
  /** Folder URL of `tfjs-backend-wasm*.wasm`, ending in '/'. */
  wasmPaths: string;
}

export interface WebBackendInfo {
  backend: WebBackend;
  /** Why this backend: what was requested and why faster ones were skipped. */
  reason: string;
}

interface GpuNavigator {
  gpu?: { requestAdapter(): Promise<unknown> };
}

interface GlobalFlags {
  isSecureContext?: boolean;
  crossOriginIsolated?: boolean;
}

/** Why WebGPU cannot be used here, or null when an adapter is available. */
export async function webGpuUnavailableReason(): Promise<string | null> {
  const flags = globalThis as GlobalFlags;
  const nav = (globalThis as { navigator?: GpuNavigator }).navigator;
  if (nav?.gpu === undefined) {
    return flags.isSecureContext === false
      ? 'WebGPU unavailable: the page is not a secure context (serve it over https or from localhost)'
      : 'WebGPU unavailable: navigator.gpu is missing in this browser';
  }
  try {
    const adapter = await nav.gpu.requestAdapter();
    return adapter === null || adapter === undefined ? 'WebGPU unavailable: navigator.gpu.requestAdapter() returned no adapter' : null;
  } catch (error) {
    return `WebGPU unavailable: requestAdapter() failed: ${(error as Error).message}`;
  }
}

let wasmConfigured = false;

function configureWasm(wasmPaths: string): void {
  if (wasmConfigured) return;
  if (!wasmPaths.endsWith('/')) throw new TypeError(`wasmPaths must end with '/', got "${wasmPaths}"`);
  // Threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages.
  if ((globalThis as GlobalFlags).crossOriginIsolated !== true) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths(wasmPaths);
  registerWasmConvGradients();
  registerWasmMatMulGradients();
  wasmConfigured = true;
}

async function tryBackend(name: WebBackend, options: WebBackendOptions): Promise<string | null> {
  try {
    if (name === 'webgpu') {
      const missing = await webGpuUnavailableReason();
      if (missing !== null) return missing;
    }
    if (name === 'wasm') configureWasm(options.wasmPaths);
    const ok = await tf.setBackend(name);
    if (!ok) return name === 'wasm' ? `wasm unavailable: could not start it with binaries from ${options.wasmPaths}` : `${name} unavailable: tf.setBackend("${name}") returned false`;
    await tf.ready();
    return null;
  } catch (error) {
    return `${name} unavailable: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function describe(name: WebBackend): string {
  if (name !== 'wasm') return name;
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  return `wasm (SIMD ${simd ? 'on' : 'off'}, ${getThreadsCount()} thread${getThreadsCount() === 1 ? '' : 's'})`;
}

/**
 * Selects and starts the tfjs backend. With 'auto' it never throws for an unavailable
 * backend: it moves down the list and says why in `reason`. A forced backend that cannot
 * start throws `backend-unavailable` with the browser's reason.
 *
 * @example
 * const { backend, reason } = await initWebBackend({ wasmPaths: '/fedkit/tfjs-wasm/' });
 */
export async function initWebBackend(options: WebBackendOptions): Promise<WebBackendInfo> {
  const requested = options.backend ?? 'auto';
  if (requested !== 'auto') {
    if (!(WEB_BACKENDS as readonly string[]).includes(requested)) {
      throw new TypeError(`backend must be 'auto' or one of ${WEB_BACKENDS.join(', ')}, got ${String(requested)}`);
    }
    const failure = await tryBackend(requested, options);
    if (failure !== null) throw new FedkitError('backend-unavailable', `backend "${requested}" was requested but cannot start: ${failure}`);
    return { backend: requested, reason: `${describe(requested)} requested by the app` };
  }
  const skipped: string[] = [];
  for (const name of WEB_BACKENDS) {
    const failure = await tryBackend(name, options);
    if (failure === null) {
      const chosen = `${describe(name)} chosen by feature detection`;
      return { backend: name, reason: skipped.length === 0 ? chosen : `${chosen}; ${skipped.join('; ')}` };
    }
    skipped.push(failure);
  }
  throw new FedkitError('backend-unavailable', `no tfjs backend could start: ${skipped.join('; ')}`);
}
