/**
 * Who may join, over real sockets: enrollment tokens (missing, forged, expired and
 * other-federation tokens refused with their codes and the socket dropped; a skewed clock
 * within the allowance accepted), pre-registered identity keys (signature over the session),
 * identity pinning, and `fedkit token create` issuing tokens the server accepts.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { FederationServer, createEnrollmentToken, defaultSecretFile, loadServerSecret, type FederationServerOptions } from '@fedkit/server';
import { createIdentityKeyPair, signHello } from '@fedkit/privacy';
import { PROTOCOL_VERSION, seededRandomSource, type HelloReply } from '@fedkit/protocol';
import { FedkitClient, type ClientSocket } from '@fedkit/client-core';
import { constantTrainer, tinyModel, federationSession } from '../helpers/federation.js';
import { jsonSummary, runCli } from '../helpers/cli.js';

const session = federationSession();

async function start(auth: FederationServerOptions['auth'], extra: Partial<FederationServerOptions> = {}) {
  const dataDir = session.tempDir('fedkit-auth-');
  const server = new FederationServer({ model: tinyModel, random: seededRandomSource(1), rounds: 1, minClients: 2, evaluate: { every: 0 }, dataDir, auth, ...extra });
  session.track(server);
  const port = await server.listen(0);
  return { server, url: `http://127.0.0.1:${port}`, dataDir, secret: () => loadServerSecret(defaultSecretFile(dataDir), { create: false }) };
}

/** Connects, sends a hello with `fields`, and reports the reply and whether the server then dropped the socket. */
async function hello(url: string, clientId: string, fields: (sessionId: string) => Record<string, unknown>): Promise<{ socket: ClientSocket; reply: HelloReply; dropped: Promise<string> }> {
  const socket = io(url, { transports: ['websocket'], autoConnect: false, reconnection: false, forceNew: true }) as ClientSocket;
  session.own(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
    socket.connect();
  });
  const dropped = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
  const reply = (await socket.emitWithAck('hello', { protocolVersion: PROTOCOL_VERSION, clientId, numExamples: 10, platform: 'other', backend: 'none', ...fields(socket.id!) } as never)) as HelloReply;
  return { socket, reply, dropped };
}

function tokenClient(url: string, clientId: string, authToken: string | undefined, identity = createIdentityKeyPair(seededRandomSource(clientId.length))): FedkitClient {
  const socket = io(url, { transports: ['websocket'], autoConnect: false, reconnection: false, forceNew: true }) as ClientSocket;
  const client = new FedkitClient({ socket, clientId, trainer: constantTrainer(1), platform: 'node', backend: 'test', identity, ...(authToken === undefined ? {} : { authToken }) });
  session.own(client);
  void client.start().catch(() => undefined);
  return client;
}

const errorCode = (reply: HelloReply): string | undefined => (reply.ok ? undefined : reply.error.code);

describe('enrollment tokens', () => {
  it('refuses missing, forged, expired and other-federation tokens with codes, and drops the socket', async () => {
    const { url, secret } = await start({ federationId: 'fed-a', clockSkewMs: 60_000 });
    const key = secret();
    const cases: [string, string | undefined, string][] = [
      ['missing', undefined, 'auth-missing'],
      ['forged', createEnrollmentToken({ secret: new Uint8Array(32).fill(1), federationId: 'fed-a', ttlMs: 3600_000 }).token, 'auth-invalid'],
      ['garbage', 'not-a-token', 'auth-invalid'],
      ['expired', createEnrollmentToken({ secret: key, federationId: 'fed-a', ttlMs: 60_000, nowMs: Date.now() - 3600_000 }).token, 'auth-expired'],
      ['other-federation', createEnrollmentToken({ secret: key, federationId: 'fed-b', ttlMs: 3600_000 }).token, 'auth-wrong-federation'],
    ];
    for (const [what, token, code] of cases) {
      const { reply, dropped } = await hello(url, `c-${what}`, () => (token === undefined ? {} : { authToken: token }));
      expect(errorCode(reply), what).toBe(code);
      expect(await dropped, what).toBe('io server disconnect');
    }
  });

  it('accepts a valid token and a client clock skewed within the allowance; clients train', async () => {
    const { server, url, secret } = await start({ federationId: 'fed-a', clockSkewMs: 60_000 });
    const key = secret();
    // A token minted on a clock 45 s fast ("issued in the future") and one that expired 30 s ago.
    const fast = createEnrollmentToken({ secret: key, federationId: 'fed-a', ttlMs: 3600_000, nowMs: Date.now() + 45_000 }).token;
    const slow = createEnrollmentToken({ secret: key, federationId: 'fed-a', ttlMs: 60_000, nowMs: Date.now() - 90_000 }).token;
    const summary = server.run();
    tokenClient(url, 'fast', fast);
    tokenClient(url, 'slow', slow);
    expect(await summary).toMatchObject({ reason: 'completed', roundsCompleted: 1 });
    const beyond = createEnrollmentToken({ secret: key, federationId: 'fed-a', ttlMs: 3600_000, nowMs: Date.now() + 300_000 }).token;
    expect(errorCode((await hello(url, 'beyond', () => ({ authToken: beyond }))).reply)).toBe('auth-invalid');
  });

  it('a FedkitClient without a token is refused and stops with the coded error', async () => {
    const { url } = await start({ federationId: 'fed-a' });
    const client = tokenClient(url, 'anon', undefined);
    await expect(client.finished).rejects.toMatchObject({ code: 'auth-missing' });
  });

  it('binds a client id to the identity key it joined with', async () => {
    const { url, secret } = await start({ federationId: 'fed-a' });
    const token = createEnrollmentToken({ secret: secret(), federationId: 'fed-a', ttlMs: 3600_000 }).token;
    const k1 = createIdentityKeyPair(seededRandomSource(1));
    const k2 = createIdentityKeyPair(seededRandomSource(2));
    const first = await hello(url, 'pinned', () => ({ authToken: token, identityPublicKey: k1.publicKey }));
    expect(first.reply.ok).toBe(true);
    first.socket.disconnect();
    expect(errorCode((await hello(url, 'pinned', () => ({ authToken: token, identityPublicKey: k2.publicKey }))).reply)).toBe('auth-invalid');
    expect((await hello(url, 'pinned', () => ({ authToken: token, identityPublicKey: k1.publicKey }))).reply.ok).toBe(true);
  });

  it('fedkit token create issues a token the server of that data dir accepts', async () => {
    const dataDir = session.tempDir('fedkit-token-');
    const cli = runCli(['token', 'create', '--federation', 'fed-cli', '--ttl', '1h', '--data-dir', dataDir, '--json']);
    expect(await cli.exited).toBe(0);
    const out = jsonSummary(cli) as { token: string; federationId: string; expiresAt: string };
    expect(out.federationId).toBe('fed-cli');
    expect(Date.parse(out.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
    const server = new FederationServer({ model: tinyModel, random: seededRandomSource(1), dataDir, auth: { federationId: 'fed-cli' }, evaluate: { every: 0 } });
    session.track(server);
    const url = `http://127.0.0.1:${await server.listen(0)}`;
    expect((await hello(url, 'x', () => ({ authToken: out.token }))).reply.ok).toBe(true);
    const bad = runCli(['token', 'create', '--federation', 'fed-cli', '--ttl', 'forever', '--data-dir', dataDir]);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr.join('\n')).toMatch(/config-invalid: a duration must look like/);
    const missing = runCli(['token', 'create', '--federation', 'f', '--ttl', '1h', '--secret-file', join(dataDir, 'nope.key')]);
    expect(await missing.exited).toBe(2);
    expect(missing.stderr.join('\n')).toMatch(/does not exist/);
  });
});

describe('pre-registered identity keys', () => {
  it('admits a registered key that signs the session, refuses unknown keys and bad signatures', async () => {
    const alice = createIdentityKeyPair(seededRandomSource(11));
    const bob = createIdentityKeyPair(seededRandomSource(12));
    const mallory = createIdentityKeyPair(seededRandomSource(13));
    const publicKeys = [alice, bob].map((k) => Buffer.from(k.publicKey).toString('base64'));
    const { server, url } = await start({ federationId: 'fed-k', tokens: false, publicKeys });

    const unknown = await hello(url, 'mallory', (sid) => ({ identityPublicKey: mallory.publicKey, authSignature: signHello(mallory, sid, 'mallory') }));
    expect(errorCode(unknown.reply)).toBe('auth-key-unknown');
    // Alice's public key with a signature by someone else, or over another session: refused.
    const stolen = await hello(url, 'alice', (sid) => ({ identityPublicKey: alice.publicKey, authSignature: signHello(mallory, sid, 'alice') }));
    expect(errorCode(stolen.reply)).toBe('auth-invalid');
    const replayed = await hello(url, 'alice', () => ({ identityPublicKey: alice.publicKey, authSignature: signHello(alice, 'another-session', 'alice') }));
    expect(errorCode(replayed.reply)).toBe('auth-invalid');
    expect(errorCode((await hello(url, 'alice', () => ({ identityPublicKey: alice.publicKey }))).reply)).toBe('auth-missing');
    // A token is not an option on this server.
    expect(errorCode((await hello(url, 'alice', () => ({ authToken: 'fkt1.a.b' }))).reply)).toBe('auth-missing');

    const summary = server.run();
    tokenClient(url, 'alice', undefined, alice);
    tokenClient(url, 'bob', undefined, bob);
    expect(await summary).toMatchObject({ reason: 'completed', roundsCompleted: 1 });
  });

  it('refuses a malformed key list at start', () => {
    expect(() => new FederationServer({ model: tinyModel, auth: { federationId: 'f', tokens: false, publicKeys: ['AAAA'] } })).toThrow(/auth.publicKeys.0/);
  });
});
