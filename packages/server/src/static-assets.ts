/**
 * Static files next to the API: the browser SDK bundle, tfjs's `.wasm` binaries and example
 * pages, so a browser client needs nothing but this server (never a CDN). Each mount maps a
 * URL prefix to a folder; a missing folder fails at start with its path, not at the first
 * request. `.wasm` is served as `application/wasm`, which streaming compilation requires.
 */
import { existsSync, statSync } from 'node:fs';
import express, { type Router } from 'express';
import { FedkitError } from '@fedkit/protocol';

/** URL prefix (e.g. '/fedkit/tfjs-wasm') → absolute folder. */
export type StaticMounts = Readonly<Record<string, string>>;

/**
 * A router serving every mount; requests for missing files fall through to the next handler
 * (the API's JSON 404).
 *
 * @example
 * app.use(staticAssets({ '/fedkit/tfjs-wasm': wasmDir, '/examples/browser-mnist': pageDir }));
 */
export function staticAssets(mounts: StaticMounts): Router {
  const router = express.Router();
  for (const [prefix, dir] of Object.entries(mounts)) {
    if (!prefix.startsWith('/') || prefix.includes('..')) {
      throw new FedkitError('config-invalid', `static mount "${prefix}": the URL prefix must start with '/' and hold no '..'`);
    }
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new FedkitError('config-invalid', `static mount "${prefix}": folder ${dir} does not exist`);
    }
    router.use(prefix, express.static(dir, { index: ['index.html'], fallthrough: true, dotfiles: 'ignore' }));
  }
  return router;
}
