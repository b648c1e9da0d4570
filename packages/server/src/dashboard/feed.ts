/**
 * The dashboard's live feed: `GET /api/dashboard/events`, server-sent events (read-only, no
 * admin rights, no client library needed: the browser's EventSource reconnects by itself).
 * Events: `snapshot` { status, rounds } on connect, `round` (one RoundMetrics) as each round
 * attempt is recorded, `status` (ServerStatus) after stage, client, pause/stop changes (at
 * most one per STATUS_INTERVAL_MS, so a thousand clients joining is not a thousand events),
 * and `finished` when training ends. A comment line every HEARTBEAT_MS keeps proxies open.
 */
import type { Express, Request, Response } from 'express';
import type { FederationServer, FederationSummary } from '../federation-server.js';
import type { RoundMetrics, ServerStatus } from '../metrics.js';

export const STATUS_INTERVAL_MS = 250;
export const HEARTBEAT_MS = 15_000;

/** The events on the feed, by name. */
export interface DashboardFeedEvents {
  snapshot: { status: ServerStatus; rounds: RoundMetrics[] };
  status: ServerStatus;
  round: RoundMetrics;
  finished: Omit<FederationSummary, 'rounds'>;
}

export function mountDashboardFeed(app: Express, server: FederationServer): void {
  const streams = new Set<Response>();
  let statusTimer: NodeJS.Timeout | null = null;
  let closed = false;

  const send = <K extends keyof DashboardFeedEvents>(res: Response, event: K, data: DashboardFeedEvents[K]): void => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const broadcast = <K extends keyof DashboardFeedEvents>(event: K, data: DashboardFeedEvents[K]): void => {
    if (streams.size === 0) return;
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of streams) res.write(frame);
  };
  const scheduleStatus = (): void => {
    if (statusTimer !== null || streams.size === 0) return;
    statusTimer = setTimeout(() => {
      statusTimer = null;
      broadcast('status', server.status());
    }, STATUS_INTERVAL_MS);
    statusTimer.unref();
  };

  server.on('stage', scheduleStatus);
  server.on('client-joined', scheduleStatus);
  server.on('client-left', scheduleStatus);
  server.on('control', scheduleStatus);
  server.on('round', (metrics) => {
    broadcast('round', metrics);
    scheduleStatus();
  });
  server.on('finished', ({ rounds: _rounds, ...summary }) => {
    broadcast('finished', summary);
    broadcast('status', server.status());
  });
  server.on('closing', () => {
    closed = true;
    if (statusTimer !== null) clearTimeout(statusTimer);
    statusTimer = null;
    for (const res of streams) res.end();
    streams.clear();
  });

  app.get('/api/dashboard/events', (req: Request, res: Response) => {
    if (closed) {
      res.status(503).json({ error: { code: 'server-shutting-down', message: 'the server is shutting down' } });
      return;
    }
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx and friends: do not buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    // The browser waits this long before reconnecting after the stream drops.
    res.write('retry: 2000\n\n');
    send(res, 'snapshot', { status: server.status(), rounds: server.roundHistory() });
    streams.add(res);
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    req.on('close', () => {
      clearInterval(heartbeat);
      streams.delete(res);
    });
  });
}
