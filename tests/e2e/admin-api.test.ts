/**
 * The admin API over real HTTP against a real round loop: refused without the right token,
 * disabled without one, and pause / resume / stop acting at round boundaries.
 */
import { describe, expect, it } from 'vitest';
import type { ClientInfo, ServerStatus } from '@fedkit/server';
import { nextEvent, federationSession } from '../helpers/federation.js';
import { ADMIN_TOKEN, admin, createGate, gatedTrainer, getJson, type Gate } from '../helpers/operator.js';

const session = federationSession();

describe('admin API: authentication', () => {
  it('is disabled (403 admin-disabled) when no admin token is configured', async () => {
    const started = await session.server();
    const server = started.server;
    for (const action of ['pause', 'resume', 'stop']) {
      const res = await admin(started.url, action);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: { code: 'admin-disabled', message: expect.stringContaining('adminToken') } });
    }
    expect(server.control.state()).toEqual({ paused: false, stopRequested: false });
  });

  it('refuses a missing, malformed or wrong token with 401 and a code, changing nothing', async () => {
    const started = await session.server({ adminToken: ADMIN_TOKEN });
    const missing = await admin(started.url, 'pause', null);
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ error: { code: 'admin-token-missing' } });
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);

    const basic = await fetch(`${started.url}/api/admin/stop`, { method: 'POST', headers: { Authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` } });
    expect(basic.status).toBe(401);
    expect(await basic.json()).toMatchObject({ error: { code: 'admin-token-missing' } });

    const sameLength = ADMIN_TOKEN.slice(0, -1) + (ADMIN_TOKEN.endsWith('x') ? 'y' : 'x');
    for (const wrong of ['wrong', sameLength, `${ADMIN_TOKEN}x`]) {
      const res = await admin(started.url, 'stop', wrong);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: { code: 'admin-token-invalid', message: 'the admin token is wrong' } });
    }
    const status = await getJson<ServerStatus>(`${started.url}/api/status`);
    expect(status).toMatchObject({ paused: false, stopRequested: false });

    const accepted = await admin(started.url, 'pause');
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ ok: true, action: 'pause', changed: true, paused: true, stopRequested: false, stage: 'starting' });
    expect(await getJson<ServerStatus>(`${started.url}/api/status`)).toMatchObject({ paused: true });
  });

  it('answers unknown admin paths with 404 only after authentication', async () => {
    const started = await session.server({ adminToken: ADMIN_TOKEN });
    expect((await admin(started.url, 'reboot', null)).status).toBe(401);
    const res = await admin(started.url, 'reboot');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: { code: 'not-found' } });
  });
});

describe('admin API: pause, resume, stop', () => {
  it('pause lets the current round finish, then holds; resume continues', async () => {
    const gates = new Map<number, Gate>([[1, createGate()]]);
    const started = await session.server({ rounds: 3, minClients: 2, adminToken: ADMIN_TOKEN });
    const server = started.server;
    const summary = server.run();
    const a = gatedTrainer(1, gates);
    const b = gatedTrainer(1, gates);
    session.client(started.url, 'a', a);
    session.client(started.url, 'b', b);
    await gates.get(1)!.entered;

    const paused = await admin(started.url, 'pause');
    expect(paused.body).toMatchObject({ ok: true, changed: true, paused: true, stage: 'training' });
    expect(await getJson<ServerStatus>(`${started.url}/api/status`)).toMatchObject({ paused: true, stage: 'training', round: 1 });

    const held = nextEvent<string>((l) => server.on('stage', l), (s) => s === 'paused');
    gates.get(1)!.release();
    await held;
    expect(server.status()).toMatchObject({ stage: 'paused', paused: true, roundsCompleted: 1 });

    // A client joining wakes the loop's waits; a paused loop still starts no round.
    const c = gatedTrainer(1, gates);
    const joined = nextEvent((l) => server.on('client-joined', l));
    session.client(started.url, 'c', c);
    await joined;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.stage).toBe('paused');
    expect(a.rounds).toEqual([1]);
    expect(c.rounds).toEqual([]);
    expect((await admin(started.url, 'pause')).body).toMatchObject({ changed: false, paused: true });

    const resumed = await admin(started.url, 'resume');
    expect(resumed.body).toMatchObject({ ok: true, action: 'resume', changed: true, paused: false });
    const result = await summary;
    expect(result.reason).toBe('completed');
    expect(result.roundsCompleted).toBe(3);
    expect(a.rounds).toEqual([1, 2, 3]);
    expect(c.rounds).toEqual([2, 3]);
  });

  it('stop finishes the round in progress, then ends training with reason "stopped"', async () => {
    const gates = new Map<number, Gate>([[2, createGate()]]);
    const started = await session.server({ rounds: 10, minClients: 2, adminToken: ADMIN_TOKEN });
    const server = started.server;
    const summary = server.run();
    const a = gatedTrainer(1, gates);
    session.client(started.url, 'a', a);
    session.client(started.url, 'b', gatedTrainer(1, gates));
    await gates.get(2)!.entered;

    const stop = await admin(started.url, 'stop');
    expect(stop.body).toEqual({ ok: true, action: 'stop', changed: true, paused: false, stopRequested: true, stage: 'training' });
    expect(await getJson<ServerStatus>(`${started.url}/api/status`)).toMatchObject({ stopRequested: true, stage: 'training' });
    gates.get(2)!.release();

    const result = await summary;
    expect(result.reason).toBe('stopped');
    expect(result.message).toBe('stopped by an operator before round 3');
    expect(result.roundsCompleted).toBe(2);
    expect(result.rounds.map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(a.rounds).toEqual([1, 2]);
    // The HTTP API stays up for the operator; further actions are refused.
    expect(await getJson<ServerStatus>(`${started.url}/api/status`)).toMatchObject({ stage: 'stopped', roundsCompleted: 2 });
    const late = await admin(started.url, 'resume');
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: { code: 'training-finished' } });
  });

  it('stop while paused ends training without another round', async () => {
    const started = await session.server({ rounds: 5, minClients: 2, adminToken: ADMIN_TOKEN });
    const server = started.server;
    expect((await admin(started.url, 'pause')).status).toBe(200);
    const held = nextEvent<string>((l) => server.on('stage', l), (s) => s === 'paused');
    const summary = server.run();
    await held;
    const a = gatedTrainer(1, new Map());
    session.client(started.url, 'a', a);
    session.client(started.url, 'b', gatedTrainer(1, new Map()));
    await nextEvent<ClientInfo>((l) => server.on('client-joined', l), () => server.status().clients.total === 2);
    expect((await admin(started.url, 'stop')).body).toMatchObject({ ok: true, paused: true, stopRequested: true });
    const result = await summary;
    expect(result).toMatchObject({ reason: 'stopped', roundsCompleted: 0 });
    expect(a.rounds).toEqual([]);
  });

  it('stop while waiting for clients ends training at once', async () => {
    const started = await session.server({ adminToken: ADMIN_TOKEN });
    const server = started.server;
    const waiting = nextEvent<string>((l) => server.on('stage', l), (s) => s === 'waiting-for-clients');
    const summary = server.run();
    await waiting;
    expect((await admin(started.url, 'stop')).status).toBe(200);
    expect(await summary).toMatchObject({ reason: 'stopped', roundsCompleted: 0, message: 'stopped by an operator before round 1' });
  });
});
