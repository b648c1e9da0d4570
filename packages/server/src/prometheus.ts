/**
 * `GET /metrics` in the Prometheus text format (prom-client). One registry per server, so
 * several servers in one process (tests, simulations) never share counters. Counters follow
 * the server's `round` events; gauges read the server's status at scrape time; Node's
 * process metrics (CPU, memory, event-loop lag, GC) come from prom-client's defaults.
 */
import type { Express } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FederationServer } from './federation-server.js';
import type { RoundMetrics, ServerStage } from './metrics.js';

const STAGES: readonly ServerStage[] = ['starting', 'waiting-for-clients', 'paused', 'training', 'aggregating', 'evaluating', 'finished', 'stopped'];

/** Round durations from tens of milliseconds (toy models) to an hour (cross-device rounds). */
export const ROUND_DURATION_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** Builds the registry for `server` and keeps its counters in step with its round events. */
export function createPrometheusRegistry(server: FederationServer): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const registers = [register];

  const roundsCompleted = new Counter({ name: 'fedkit_rounds_completed_total', help: 'Training rounds completed (a new global model).', registers });
  const roundsFailed = new Counter({ name: 'fedkit_round_attempts_failed_total', help: 'Round attempts that failed (too few good replies, aborted, ...).', registers });
  const duration = new Histogram({
    name: 'fedkit_round_duration_seconds',
    help: 'Round attempt duration, from sampling to the new model (or the failure).',
    labelNames: ['status'] as const,
    buckets: ROUND_DURATION_BUCKETS_SECONDS,
    registers,
  });
  const bytesIn = new Counter({ name: 'fedkit_payload_bytes_received_total', help: 'Chunk payload bytes received from clients in training rounds.', registers });
  const bytesOut = new Counter({ name: 'fedkit_payload_bytes_sent_total', help: 'Chunk payload bytes sent to clients in training rounds.', registers });
  const failures = new Counter({
    name: 'fedkit_client_failures_total',
    help: 'Selected clients that failed a round, by error code.',
    labelNames: ['code'] as const,
    registers,
  });

  new Gauge({
    name: 'fedkit_current_round',
    help: 'The round in progress (or the next one while waiting).',
    registers,
    collect() {
      this.set(server.status().round);
    },
  });
  new Gauge({
    name: 'fedkit_model_version',
    help: 'Global model version (completed aggregations).',
    registers,
    collect() {
      this.set(server.modelVersion);
    },
  });
  new Gauge({
    name: 'fedkit_connected_clients',
    help: 'Joined clients by platform and backend.',
    labelNames: ['platform', 'backend'] as const,
    registers,
    collect() {
      this.reset();
      for (const c of server.status().clients.list) this.inc({ platform: c.platform, backend: c.backend });
    },
  });
  new Gauge({
    name: 'fedkit_stage',
    help: 'The round loop stage: 1 for the current stage, 0 for the others.',
    labelNames: ['stage'] as const,
    registers,
    collect() {
      for (const stage of STAGES) this.set({ stage }, stage === server.stage ? 1 : 0);
    },
  });
  new Gauge({
    name: 'fedkit_paused',
    help: '1 while an operator has paused training.',
    registers,
    collect() {
      this.set(server.control.paused ? 1 : 0);
    },
  });
  new Gauge({
    name: 'fedkit_privacy_epsilon_spent',
    help: 'Differential privacy: epsilon spent so far at the reported delta (0 without DP).',
    registers,
    collect() {
      this.set(server.status().privacy.epsilon);
    },
  });
  const budget = server.status().privacy.budget;
  if (budget !== null) {
    new Gauge({ name: 'fedkit_privacy_epsilon_budget', help: 'Differential privacy: the epsilon budget (only with a budget).', registers }).set(budget.epsilon);
  }

  server.on('round', (metrics: RoundMetrics) => {
    if (metrics.status === 'completed') roundsCompleted.inc();
    else roundsFailed.inc();
    duration.observe({ status: metrics.status }, metrics.durationMs / 1000);
    bytesIn.inc(metrics.bytesIn);
    bytesOut.inc(metrics.bytesOut);
    for (const f of metrics.failed) failures.inc({ code: f.code });
  });
  return register;
}

/** Mounts `GET /metrics`. */
export function mountPrometheus(app: Express, server: FederationServer): void {
  const register = createPrometheusRegistry(server);
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', register.contentType).send(await register.metrics());
  });
}
