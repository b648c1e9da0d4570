/**
 * Where a Node server finds what browsers need (Node only): the prebuilt bundle of this
 * package and tfjs-backend-wasm's `.wasm` binaries, so a Fedkit server can serve both and
 * no page fetches anything from a CDN.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ClientWebAssets {
  /** Folder of `fedkit-web.js` (the single-file ES module bundle). */
  bundleDir: string;
  /** Folder of `tfjs-backend-wasm.wasm`, `-simd.wasm` and `-threaded-simd.wasm`. */
  wasmDir: string;
}

/** Absolute paths of the browser assets of the installed @fedkit/client-web. */
export function clientWebAssets(): ClientWebAssets {
  const here = dirname(fileURLToPath(import.meta.url));
  const wasmEntry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  return { bundleDir: join(here, '..', 'bundle'), wasmDir: dirname(wasmEntry) };
}
