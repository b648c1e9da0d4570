/**
 * The HTTP side of the server: a small JSON API next to the socket.io endpoint.
 * `GET /api/status` (stage, round, clients, last round), `GET /api/rounds` (every round's
 * metrics), `GET /api/model` (the current model as tfjs model.json) and its weights, and
 * `GET /healthz`; the operator's dashboard (`/dashboard/`, fed by `/api/dashboard/events`),
 * Prometheus `GET /metrics`, and the token-guarded admin actions (`POST /api/admin/...`).
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { encodeFloat32 } from '@fedkit/protocol';
import type { FederationServer } from './federation-server.js';
import { tfjsModelJson } from './model.js';
import { mountAdminApi } from './admin-api.js';
import { mountDashboard } from './dashboard/index.js';
import { mountPrometheus } from './prometheus.js';

export function createHttpApi(server: FederationServer): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/api/status', (_req, res) => {
    res.json(server.status());
  });
  app.get('/api/rounds', (_req, res) => {
    res.json({ rounds: server.roundHistory() });
  });
  app.get('/api/model', (_req, res) => {
    const model = server.modelDefinition();
    res.json(tfjsModelJson(model, `model/weights.bin?version=${server.modelVersion}`));
  });
  app.get('/api/model/weights.bin', (_req, res) => {
    const bytes = encodeFloat32(server.currentWeights());
    res.type('application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
  mountAdminApi(app, server);
  mountDashboard(app, server);
  mountPrometheus(app, server);
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not-found', message: 'no such endpoint' } });
  });
  // Errors thrown by routes (or by express on a malformed request) become coded JSON, never an HTML stack trace.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: unknown }).status;
    const code = typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
    if (code === 500) server.logger.error({ err: error }, 'HTTP request failed');
    res.status(code).json({ error: { code: code === 500 ? 'internal' : 'invalid-message', message: code === 500 ? 'internal server error' : (error as Error).message } });
  });
  return app;
}
