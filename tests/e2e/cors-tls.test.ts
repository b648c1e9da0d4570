/**
 * Browsers are held to the CORS allow-list on both the HTTP API and the socket handshake;
 * the built-in `tls` option serves HTTPS and WSS (with a self-signed certificate made by
 * openssl at test time; the test fails, naming the package, where openssl is missing).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { FederationServer, type FederationServerOptions } from '@fedkit/server';
import { PROTOCOL_VERSION, seededRandomSource, type HelloReply } from '@fedkit/protocol';
import type { ClientSocket } from '@fedkit/client-core';
import { tinyModel, federationSession } from '../helpers/federation.js';

const session = federationSession();

async function start(extra: Partial<FederationServerOptions>): Promise<number> {
  const server = new FederationServer({ model: tinyModel, random: seededRandomSource(1), evaluate: { every: 0 }, ...extra });
  session.track(server);
  return server.listen(0);
}

function connect(url: string, options: Record<string, unknown>): Promise<ClientSocket> {
  const socket = io(url, { transports: ['websocket'], autoConnect: false, reconnection: false, forceNew: true, ...options }) as ClientSocket;
  session.own(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
    socket.connect();
  });
}

describe('CORS allow-list', () => {
  it('answers allowed origins with CORS headers, refuses others on the API and the socket', async () => {
    const port = await start({ cors: { origins: ['https://app.example.org'] } });
    const url = `http://127.0.0.1:${port}`;
    const good = await fetch(`${url}/api/status`, { headers: { origin: 'https://app.example.org' } });
    expect(good.status).toBe(200);
    expect(good.headers.get('access-control-allow-origin')).toBe('https://app.example.org');
    const preflight = await fetch(`${url}/api/status`, { method: 'OPTIONS', headers: { origin: 'https://app.example.org', 'access-control-request-method': 'GET' } });
    expect(preflight.status).toBe(204);
    const evil = await fetch(`${url}/api/status`, { headers: { origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    expect(await evil.json()).toEqual({ error: { code: 'origin-not-allowed', message: expect.stringContaining('https://evil.example') } });
    // No Origin header: not a browser (Node clients, curl).
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    await expect(connect(url, { extraHeaders: { origin: 'https://evil.example' } })).rejects.toThrow();
    const socket = await connect(url, { extraHeaders: { origin: 'https://app.example.org' } });
    const reply = (await socket.emitWithAck('hello', { protocolVersion: PROTOCOL_VERSION, clientId: 'web', numExamples: 1, platform: 'browser', backend: 'none' } as never)) as HelloReply;
    expect(reply.ok).toBe(true);
  });
});

function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('built-in TLS', () => {
  it('serves HTTPS and WSS with the configured certificate', async () => {
    expect(opensslAvailable(), 'openssl is needed to make a test certificate: apt-get install openssl').toBe(true);
    const dir = session.tempDir('fedkit-tls-');
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const ca = readFileSync(certFile);
    const port = await start({ tls: { certFile, keyFile } });
    const body = await new Promise<string>((resolve, reject) => {
      httpsGet(`https://127.0.0.1:${port}/healthz`, { ca }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(JSON.parse(body)).toEqual({ ok: true });
    const socket = await connect(`https://127.0.0.1:${port}`, { ca });
    const reply = (await socket.emitWithAck('hello', { protocolVersion: PROTOCOL_VERSION, clientId: 'tls', numExamples: 1, platform: 'node', backend: 'none' } as never)) as HelloReply;
    expect(reply.ok).toBe(true);
    // Without trusting the certificate the client refuses the server.
    await expect(connect(`https://127.0.0.1:${port}`, {})).rejects.toThrow();
  });

  it('refuses unreadable certificate files at start with config-invalid', () => {
    expect(() => new FederationServer({ model: tinyModel, tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' } })).toThrow(
      expect.objectContaining({ code: 'config-invalid' }),
    );
  });
});
