/**
 * Serves the operator dashboard at `/dashboard/`: plain HTML, JS and CSS shipped in this
 * package (`public/dashboard`, no build step) and Chart.js's UMD bundle straight from
 * node_modules, so nothing is fetched from a CDN. A strict Content-Security-Policy keeps the
 * page to its own scripts and its own origin.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import { FedkitError } from '@fedkit/protocol';

/** src/dashboard and dist/dashboard are both two levels below the package root. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../public/dashboard/', import.meta.url));

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Where the installed Chart.js keeps its self-contained browser bundle. */
export function chartJsBundlePath(): string {
  const main = createRequire(import.meta.url).resolve('chart.js');
  const bundle = join(dirname(main), 'chart.umd.min.js');
  if (!existsSync(bundle)) throw new FedkitError('internal', `Chart.js bundle not found at ${bundle}; reinstall @fedkit/server's dependencies`);
  return bundle;
}

export function mountDashboardPage(app: Express): void {
  if (!existsSync(join(DASHBOARD_DIR, 'index.html'))) {
    throw new FedkitError('internal', `dashboard files not found in ${DASHBOARD_DIR}; the @fedkit/server package is incomplete`);
  }
  const chartJs = chartJsBundlePath();
  const router = express.Router();
  router.use((_req, res, next) => {
    res.set({ 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });
    next();
  });
  router.get('/vendor/chart.umd.min.js', (_req, res) => {
    // pnpm keeps packages under node_modules/.pnpm: a dot segment send() refuses by default.
    res.sendFile(chartJs, { maxAge: '1h', dotfiles: 'allow' });
  });
  router.use(express.static(DASHBOARD_DIR, { index: 'index.html', redirect: true, fallthrough: true }));
  app.use('/dashboard', router);
}
