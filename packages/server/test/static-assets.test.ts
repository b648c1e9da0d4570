/**
 * The server's static mounts: files are served under their URL prefix (`.wasm` as
 * application/wasm, which streaming compilation requires), misses fall through to the API's
 * JSON 404, and a bad mount fails at start naming it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FedkitError } from '@fedkit/protocol';
import { FederationServer } from '../src/federation-server.js';
import { staticAssets } from '../src/static-assets.js';

const model = { topology: null, layout: [{ name: 'w', shape: [2] }], weights: new Float32Array([1, 2]) };
let server: FederationServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('staticAssets', () => {
  it('serves mounted folders before the API; a miss gets the JSON 404', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-static-'));
    writeFileSync(join(dir, 'index.html'), '<p>hi</p>');
    writeFileSync(join(dir, 'k.wasm'), new Uint8Array([0, 97, 115, 109]));
    server = new FederationServer({ model, staticMounts: { '/pages': dir }, configureHttp: (app) => app.get('/extra', (_req, res) => void res.send('extra')) });
    const base = `http://127.0.0.1:${await server.listen(0)}`;
    const page = await fetch(`${base}/pages/`);
    expect(await page.text()).toBe('<p>hi</p>');
    const wasm = await fetch(`${base}/pages/k.wasm`);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect(await (await fetch(`${base}/extra`)).text()).toBe('extra');
    expect((await (await fetch(`${base}/api/status`)).json()).stage).toBeDefined();
    const miss = await fetch(`${base}/pages/missing.js`);
    expect(miss.status).toBe(404);
    expect((await miss.json()).error.code).toBe('not-found');
    expect((await fetch(`${base}/pages/../package.json`)).status).toBe(404);
  });

  it('refuses a missing folder or a bad prefix at start', () => {
    expect(() => staticAssets({ '/x': '/nonexistent/fedkit-folder' })).toThrow(FedkitError);
    expect(() => staticAssets({ '/x': '/nonexistent/fedkit-folder' })).toThrow('static mount "/x": folder /nonexistent/fedkit-folder does not exist');
    expect(() => staticAssets({ 'x/': tmpdir() })).toThrow(/must start with '\/'/);
  });
});
