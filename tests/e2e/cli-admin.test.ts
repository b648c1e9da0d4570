/**
 * `fedkit server` wires the admin token from its config file: an operator stops a real
 * server process over HTTP with the token read from `server.adminTokenFile`. The same process
 * serves browsers the client-web bundle and tfjs's `.wasm` binaries.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonSummary, runCli, type CliProcess } from '../helpers/cli.js';
import { ADMIN_TOKEN, admin } from '../helpers/operator.js';

const BUNDLE_PATH = fileURLToPath(new URL('../../packages/client-web/dist/bundle/fedkit-web.js', import.meta.url));
const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

describe('fedkit server: admin token and browser assets', () => {
  it('reads server.adminTokenFile and stops training on an authorized POST /api/admin/stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-admin-'));
    writeFileSync(join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
    const config = join(dir, 'fedkit.config.json');
    writeFileSync(config, JSON.stringify({ model: { builtin: 'mnist-2nn' }, server: { adminTokenFile: 'admin-token' }, federation: { rounds: 3, minClients: 2 } }));
    const server = runCli(['server', '--config', config, '--port', '0', '--data-dir', join(dir, 'data'), '--json']);
    running.push(server);
    const [, url] = await server.waitForLine(/listening on (http:\/\/[\d.]+:\d+) \(dashboard: \/dashboard\//);

    // The same process serves browsers the SDK bundle and tfjs's wasm binaries (no CDN).
    const bundle = await fetch(`${url}/fedkit/client-web/fedkit-web.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    expect(await bundle.text()).toBe(readFileSync(BUNDLE_PATH, 'utf8'));
    const wasm = await fetch(`${url}/fedkit/tfjs-wasm/tfjs-backend-wasm-simd.wasm`);
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect([...new Uint8Array(await wasm.arrayBuffer()).subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]);

    expect((await admin(url!, 'stop', 'wrong-token')).body).toMatchObject({ error: { code: 'admin-token-invalid' } });
    const stop = await admin(url!, 'stop');
    expect(stop.status).toBe(200);
    expect(stop.body).toMatchObject({ ok: true, stopRequested: true });
    expect(await server.exited).toBe(0);
    expect(jsonSummary(server)).toMatchObject({ command: 'server', reason: 'stopped', roundsCompleted: 0 });
  }, 60_000);
});
