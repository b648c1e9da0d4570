/**
 * tfjs backend selection for Node. `@tensorflow/tfjs-node` cannot be installed here (its
 * install step downloads libtensorflow), so Node clients train on tfjs-backend-wasm (SIMD,
 * one thread: tfjs disables wasm threads under Node) with Fedkit's fast conv and matmul
 * gradient kernels, and fall back to the pure-JS cpu backend, saying why, when wasm cannot
 * start. The `.wasm` binaries are loaded from the installed package's own `dist/` folder:
 * nothing is fetched.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmConvGradients, registerWasmMatMulGradients } from '@fedkit/client-core';
import { FedkitError } from '@fedkit/protocol';

/** The backends a Node client can train on. */
export type NodeBackend = 'wasm' | 'cpu';

export interface NodeBackendOptions {
  /** Backend to use; wasm falls back to cpu if it cannot start. @default 'wasm' */
  backend?: NodeBackend;
  /** Called with each warning (e.g. the reason for falling back to cpu). */
  log?: (message: string) => void;
  /**
   * Folder holding `tfjs-backend-wasm*.wasm`, with a trailing `/`.
   * @default the `dist/` folder of the installed `@tensorflow/tfjs-backend-wasm`
   */
  wasmDir?: string;
}

export interface NodeBackendInfo {
  /** The backend now active in tfjs. */
  backend: NodeBackend;
  /** Why: what was requested, the wasm configuration, or why wasm failed. */
  reason: string;
}

const SIMD_BINARY = 'tfjs-backend-wasm-simd.wasm';
const PLAIN_BINARY = 'tfjs-backend-wasm.wasm';

/** The installed wasm package's `dist/` folder, with the trailing `/` setWasmPaths needs. */
export function defaultWasmDir(): string {
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  return dirname(entry) + '/';
}

/** Outcome of the one wasm start-up per process: null when wasm is ready, else why not. */
let wasmStart: Promise<string | null> | undefined;

async function startWasm(wasmDir: string): Promise<string | null> {
  if (!wasmDir.endsWith('/')) return `wasmDir must end with '/', got "${wasmDir}"`;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const binary = join(wasmDir, simd ? SIMD_BINARY : PLAIN_BINARY);
  // A missing binary makes tfjs log and abort inside Emscripten; check first and say which file.
  if (!existsSync(binary)) return `wasm binary not found at ${binary}`;
  try {
    setWasmPaths(wasmDir);
    registerWasmConvGradients();
    registerWasmMatMulGradients();
    const ok = await tf.setBackend('wasm');
    return ok ? null : 'tf.setBackend("wasm") returned false';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Selects and initializes the tfjs backend for training in Node. Idempotent: wasm is
 * started (and the gradient kernels registered) once per process; later calls just switch.
 * Never throws for an unavailable wasm: it falls back to cpu, reports why in `reason` and
 * passes the same text to `log`.
 *
 * @example
 * const { backend, reason } = await initNodeBackend({ log: (m) => logger.warn(m) });
 */
export async function initNodeBackend(options: NodeBackendOptions = {}): Promise<NodeBackendInfo> {
  const requested = options.backend ?? 'wasm';
  if (requested !== 'wasm' && requested !== 'cpu') throw new TypeError(`backend must be 'wasm' or 'cpu', got ${String(requested)}`);
  if (requested === 'wasm') {
    wasmStart ??= startWasm(options.wasmDir ?? defaultWasmDir());
    const failure = await wasmStart;
    if (failure === null && (await tf.setBackend('wasm'))) {
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
      return { backend: 'wasm', reason: `wasm (SIMD ${simd ? 'on' : 'off'}, ${getThreadsCount()} thread) with Fedkit conv and matmul gradient kernels` };
    }
    const reason = `wasm backend unavailable (${failure ?? 'setBackend failed'}); training on the much slower cpu backend`;
    await useCpu();
    options.log?.(reason);
    return { backend: 'cpu', reason };
  }
  await useCpu();
  return { backend: 'cpu', reason: 'cpu backend requested' };
}

async function useCpu(): Promise<void> {
  if (!(await tf.setBackend('cpu'))) {
    // Only if tfjs-backend-cpu failed to register: nothing else is left to try.
    throw new FedkitError('backend-unavailable', 'the tfjs cpu backend failed to start');
  }
}
