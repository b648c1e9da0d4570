/**
 * The dashboard's HTTP side without a browser: the static page and its vendored Chart.js,
 * and the server-sent-event feed (snapshot, round, status, finished) over a real round loop.
 */
import { describe, expect, it } from 'vitest';
import type { RoundMetrics, ServerStatus } from '@fedkit/server';
import { federationSession } from '../helpers/federation.js';
import { createGate, gatedTrainer, type Gate } from '../helpers/operator.js';

const session = federationSession();

interface FeedEvent {
  event: string;
  data: unknown;
}

/** Reads server-sent events from `url` as they arrive; `next(pred)` resolves the first match. */
async function openFeed(url: string): Promise<{ events: FeedEvent[]; next(pred: (e: FeedEvent) => boolean): Promise<FeedEvent>; ended: Promise<void> }> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const events: FeedEvent[] = [];
  const waiters: { pred: (e: FeedEvent) => boolean; resolve: (e: FeedEvent) => void }[] = [];
  const decoder = new TextDecoder();
  const ended = (async () => {
    let buffer = '';
    const reader = response.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.+)$/m.exec(frame)?.[1];
        const data = /^data: (.+)$/m.exec(frame)?.[1];
        if (event === undefined || data === undefined) continue;
        const parsed = { event, data: JSON.parse(data) as unknown };
        events.push(parsed);
        for (const w of waiters.splice(0)) {
          if (w.pred(parsed)) w.resolve(parsed);
          else waiters.push(w);
        }
      }
    }
  })();
  return {
    events,
    ended,
    next: (pred) => {
      const found = events.find(pred);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

describe('dashboard page', () => {
  it('serves the page, its script and style, and Chart.js from node_modules, under a strict CSP', async () => {
    const started = await session.server();
    const redirect = await fetch(`${started.url}/dashboard`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/dashboard/');

    const page = await fetch(`${started.url}/dashboard/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<canvas id="chart-quality"');
    expect(html).not.toMatch(/https?:\/\//);

    const chart = await fetch(`${started.url}/dashboard/vendor/chart.umd.min.js`);
    expect(chart.status).toBe(200);
    expect(chart.headers.get('content-type')).toMatch(/javascript/);
    expect(await chart.text()).toMatch(/Chart\.js v4\.5\.1/);
    for (const file of ['dashboard.js', 'dashboard.css']) expect((await fetch(`${started.url}/dashboard/${file}`)).status).toBe(200);

    const missing = await fetch(`${started.url}/dashboard/nope.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not-found' } });
    expect((await fetch(`${started.url}/dashboard/%2e%2e/package.json`)).status).not.toBe(200);
  });
});

describe('dashboard feed (server-sent events)', () => {
  it('sends a snapshot, each round, status changes and the end of training, then ends on close', async () => {
    const gates = new Map<number, Gate>([[1, createGate()]]);
    const started = await session.server({ rounds: 2, minClients: 2, evaluate: { every: 1 } });
    const server = started.server;
    const feed = await openFeed(`${started.url}/api/dashboard/events`);
    const snapshot = await feed.next((e) => e.event === 'snapshot');
    expect(snapshot.data).toMatchObject({ status: { stage: 'starting', roundsCompleted: 0, paused: false }, rounds: [] });

    const summary = server.run();
    session.client(started.url, 'a', gatedTrainer(1, gates));
    session.client(started.url, 'b', gatedTrainer(3, gates));
    await gates.get(1)!.entered;
    const training = await feed.next((e) => e.event === 'status' && (e.data as ServerStatus).stage === 'training');
    expect((training.data as ServerStatus).clients).toMatchObject({ total: 2, byPlatform: { node: 2 }, byBackend: { test: 2 } });
    gates.get(1)!.release();
    await summary;

    const finished = await feed.next((e) => e.event === 'finished');
    expect(finished.data).toMatchObject({ reason: 'completed', roundsCompleted: 2 });
    expect(finished.data).not.toHaveProperty('rounds');
    const rounds = feed.events.filter((e) => e.event === 'round').map((e) => e.data as RoundMetrics);
    expect(rounds.map((r) => [r.round, r.status])).toEqual([
      [1, 'completed'],
      [2, 'completed'],
    ]);
    expect(rounds[1]).toMatchObject({ accuracy: 1 - 0.5 / 3, replied: 2 });
    const last = await feed.next((e) => e.event === 'status' && (e.data as ServerStatus).stage === 'finished');
    expect(last.data).toMatchObject({ roundsCompleted: 2 });

    // A late viewer gets the whole history in its snapshot.
    const late = await openFeed(`${started.url}/api/dashboard/events`);
    const lateSnapshot = await late.next((e) => e.event === 'snapshot');
    expect((lateSnapshot.data as { rounds: RoundMetrics[] }).rounds).toHaveLength(2);

    await server.close();
    await Promise.all([feed.ended, late.ended]);
  });
});
