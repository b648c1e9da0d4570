/**
 * `fedkit server` wires the admin token from its config file: an operator stops a real
 * server process over HTTP with the token read from `server.adminTokenFile`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonSummary, runCli, type CliProcess } from '../helpers/cli.js';
import { ADMIN_TOKEN, admin } from '../helpers/operator.js';

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

describe('fedkit server admin token', () => {
  it('reads server.adminTokenFile and stops training on an authorized POST /api/admin/stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-admin-'));
    writeFileSync(join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
    const config = join(dir, 'fedkit.config.json');
    writeFileSync(config, JSON.stringify({ model: { builtin: 'mnist-2nn' }, server: { adminTokenFile: 'admin-token' }, federation: { rounds: 3, minClients: 2 } }));
    const server = runCli(['server', '--config', config, '--port', '0', '--data-dir', join(dir, 'data'), '--json']);
    running.push(server);
    const [, url] = await server.waitForLine(/listening on (http:\/\/[\d.]+:\d+) \(dashboard: \/dashboard\//);

    expect((await admin(url!, 'stop', 'wrong-token')).body).toMatchObject({ error: { code: 'admin-token-invalid' } });
    const stop = await admin(url!, 'stop');
    expect(stop.status).toBe(200);
    expect(stop.body).toMatchObject({ ok: true, stopRequested: true });
    expect(await server.exited).toBe(0);
    expect(jsonSummary(server)).toMatchObject({ command: 'server', reason: 'stopped', roundsCompleted: 0 });
  }, 60_000);
});
