// Builds the single-file ES module bundle for <script type="module"> pages:
// dist/bundle/fedkit-web.js (the API and, loaded as a module worker, the training worker).
// Run after tsc (it bundles the compiled dist/, whose imports resolve in node_modules).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
await build({
  absWorkingDir: here,
  entryPoints: ['dist/bundle-entry.js'],
  outfile: 'dist/bundle/fedkit-web.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  // tfjs-backend-wasm references Node modules behind runtime checks it never takes in a browser.
  external: ['fs', 'path', 'worker_threads', 'perf_hooks', 'os', 'crypto', 'util'],
  logLevel: 'warning',
});
