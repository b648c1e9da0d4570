/**
 * Wires the security options into a server: the authenticator (with the server secret
 * loaded from the configured file or the data dir), the HTTP(S) server with the CORS
 * allow-list in front of the app, and socket.io's origin guard.
 */
import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import express, { type Express } from 'express';
import { FedkitError } from '@fedkit/protocol';
import type { KnownClients } from '../durable/known-clients.js';
import type { ResolvedServerOptions } from '../config.js';
import { Authenticator } from './authenticator.js';
import { corsMiddleware } from './cors.js';
import { defaultSecretFile, loadServerSecret } from './server-secret.js';

/** The authenticator for `options.auth`, or null when anyone may join. */
export function createAuthenticator(options: ResolvedServerOptions, known: KnownClients, now?: () => number): Authenticator | null {
  const auth = options.auth;
  if (auth === undefined) return null;
  let secret: Uint8Array | null = null;
  if (auth.tokens) {
    secret =
      auth.secretFile !== undefined ? loadServerSecret(auth.secretFile, { create: false }) : loadServerSecret(defaultSecretFile(options.dataDir!), { create: true });
  }
  return new Authenticator(auth, secret, known, now);
}

/** The HTTP (or, with `tls`, HTTPS) server for `app`, behind the CORS allow-list when configured. */
export function createWebServer(app: Express, options: ResolvedServerOptions): HttpServer {
  let handler: RequestListener = app;
  if (options.cors !== undefined) {
    const outer = express();
    outer.disable('x-powered-by');
    outer.use(corsMiddleware(options.cors));
    outer.use(app);
    handler = outer;
  }
  if (options.tls === undefined) return createServer(handler);
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(options.tls.certFile);
    key = readFileSync(options.tls.keyFile);
  } catch (error) {
    throw new FedkitError('config-invalid', `server options: field "tls": ${(error as Error).message}`);
  }
  // An https.Server is an http.Server as far as socket.io and listen() are concerned.
  return createHttpsServer({ cert, key }, handler) as unknown as HttpServer;
}
