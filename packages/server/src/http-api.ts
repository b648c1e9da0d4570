/**
 * The HTTP side of the server: a small JSON API next to the socket.io endpoint.
 * `GET /api/status` (stage, round, clients, last round), `GET /api/rounds` (every round's
 * metrics), `GET /api/model` (the current model as tfjs model.json) and its weights, and
 * `GET /healthz`. Read-only; admin actions arrive with the dashboard.
 */
import express, { type Express } from 'express';
import { encodeFloat32 } from '@fedkit/protocol';
import type { FederationServer } from './federation-server.js';
import { tfjsModelJson } from './model.js';

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
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not-found', message: 'no such endpoint' } });
  });
  return app;
}
