/**
 * The browser origin allow-list, applied in both places a browser reaches the server: the
 * HTTP API (CORS headers, preflight, 403 for other origins) and socket.io's handshake
 * (`allowRequest`; WebSockets are not covered by CORS, so the server checks Origin itself).
 * Requests without an Origin header (Node clients, curl) are not browsers and pass.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { CorsOptions } from '../security-config.js';

export function originAllowed(options: CorsOptions | undefined, origin: string | undefined): boolean {
  if (options === undefined || origin === undefined) return true;
  return options.origins.includes('*') || options.origins.includes(origin);
}

/** Express middleware: CORS headers for allowed origins, 403 `origin-not-allowed` for others. */
export function corsMiddleware(options: CorsOptions): RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined) return next();
    if (!originAllowed(options, origin)) {
      res.status(403).json({ error: { code: 'origin-not-allowed', message: `origin ${origin} is not in this server's CORS allow-list` } });
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', String(req.headers['access-control-request-headers'] ?? 'content-type, authorization'));
      res.status(204).end();
      return;
    }
    next();
  };
}

/** socket.io `allowRequest`: refuses a handshake from an origin not in the list. */
export function socketOriginGuard(options: CorsOptions | undefined): (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => void {
  return (req, callback) => {
    const ok = originAllowed(options, req.headers.origin);
    callback(ok ? null : 'origin-not-allowed', ok);
  };
}
