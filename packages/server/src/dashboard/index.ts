/**
 * The operator dashboard: the page (routes.ts) and its live feed (feed.ts).
 */
import type { Express } from 'express';
import type { FederationServer } from '../federation-server.js';
import { mountDashboardFeed } from './feed.js';
import { mountDashboardPage } from './routes.js';

export type { DashboardFeedEvents } from './feed.js';

/** Mounts `/dashboard/` and `/api/dashboard/events`. */
export function mountDashboard(app: Express, server: FederationServer): void {
  mountDashboardPage(app);
  mountDashboardFeed(app, server);
}
