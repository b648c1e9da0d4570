/**
 * The operator's write API: `POST /api/admin/pause | resume | stop` with
 * `Authorization: Bearer <adminToken>`. Everything else on the HTTP side is read-only.
 * Refusals are coded JSON errors: 403 `admin-disabled` when the server has no admin token,
 * 401 `admin-token-missing` / `admin-token-invalid`, 409 `training-finished` once the round
 * loop has ended.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { ErrorCode } from '@fedkit/protocol';
import type { FederationServer } from './federation-server.js';

export type AdminAction = 'pause' | 'resume' | 'stop';

/** What a successful admin call returns. */
export interface AdminActionResult {
  ok: true;
  action: AdminAction;
  /** False when the call changed nothing (pause while paused, ...). */
  changed: boolean;
  paused: boolean;
  stopRequested: boolean;
  stage: ReturnType<FederationServer['status']>['stage'];
}

export function mountAdminApi(app: Express, server: FederationServer): void {
  const router = express.Router();
  router.use(requireAdminToken(server));
  const act = (action: AdminAction, run: () => boolean) => (_req: Request, res: Response) => {
    if (server.stage === 'finished' || server.stage === 'stopped') {
      sendError(res, 409, 'training-finished', `cannot ${action}: training has already ended (stage "${server.stage}")`);
      return;
    }
    const changed = run();
    if (changed) server.logger.info({ action }, `admin: ${action}`);
    const result: AdminActionResult = { ok: true, action, changed, ...server.control.state(), stage: server.stage };
    res.json(result);
  };
  router.post('/pause', act('pause', () => server.control.pause()));
  router.post('/resume', act('resume', () => server.control.resume()));
  router.post('/stop', act('stop', () => server.control.stop()));
  app.use('/api/admin', router);
}

function requireAdminToken(server: FederationServer) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (server.adminToken === null) {
      sendError(res, 403, 'admin-disabled', 'the admin API is disabled: start the server with adminToken or adminTokenFile');
      return;
    }
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(req.get('authorization') ?? '');
    if (match === null) {
      res.set('WWW-Authenticate', 'Bearer realm="fedkit-admin"');
      sendError(res, 401, 'admin-token-missing', 'send the admin token as "Authorization: Bearer <token>"');
      return;
    }
    if (!server.adminToken.matches(match[1]!)) {
      server.logger.warn({ ip: req.ip, path: req.path }, 'admin: wrong admin token');
      res.set('WWW-Authenticate', 'Bearer realm="fedkit-admin", error="invalid_token"');
      sendError(res, 401, 'admin-token-invalid', 'the admin token is wrong');
      return;
    }
    next();
  };
}

function sendError(res: Response, status: number, code: ErrorCode, message: string): void {
  res.status(status).json({ error: { code, message } });
}
