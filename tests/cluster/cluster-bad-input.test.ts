// Cluster mode's bad input: a Redis that does not answer fails the start within a few
// seconds, naming the URL (library and CLI), and the combinations cluster mode cannot run
// are refused at start with config-invalid naming the field.
import { describe, expect, it } from 'vitest';
import { FedkitError } from '@fedkit/protocol';
import { FederationServer, resolveServerOptions } from '@fedkit/server';
import { runCli } from '../helpers/cli.js';
import { tinyModel } from '../helpers/federation.js';
import { createServer } from 'node:net';
import { freePort, redisCommand, startRedis } from '../helpers/redis.js';

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof FedkitError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a FedkitError');
}

describe('cluster: unreachable Redis at start', () => {
  it('listen() fails with redis-unreachable naming the URL, within the connect timeout', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const server = new FederationServer({ model: tinyModel, evaluate: { every: 0 }, cluster: { redisUrl: url, connectTimeoutMs: 1000 } });
    const started = Date.now();
    const error = await server.listen(0).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FedkitError);
    expect((error as FedkitError).code).toBe('redis-unreachable');
    expect((error as FedkitError).message).toContain(url);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(server.http.listening).toBe(false);
    await server.close();
  });

  it('fedkit server --cluster-workers 2 --redis-url … exits 1 naming the URL', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const cli = runCli(['server', '--config', 'examples/mnist-2nn/fedkit.config.json', '--cluster-workers', '2', '--redis-url', url]);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr.join('\n')).toContain(`redis-unreachable: cluster.redisUrl: cannot reach Redis at ${url}`);
  });

  it('a password in the URL is not printed', async () => {
    const port = await freePort();
    const server = new FederationServer({ model: tinyModel, cluster: { redisUrl: `redis://user:secret@127.0.0.1:${port}`, connectTimeoutMs: 500 } });
    const error = (await server.listen(0).catch((e: unknown) => e)) as FedkitError;
    expect(error.message).toContain(`redis://user:***@127.0.0.1:${port}`);
    expect(error.message).not.toContain('secret');
    await server.close();
  });
});

describe('cluster: a port that cannot open', () => {
  it('listen() rejects and the process leaves the cluster at once (no member record, no lock)', async () => {
    const redis = await startRedis();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const server = new FederationServer({ model: tinyModel, evaluate: { every: 0 }, cluster: { redisUrl: redis.url, federationId: 'busy-port', processId: 'p1' } });
      const error = (await server.listen(port).catch((e: unknown) => e)) as NodeJS.ErrnoException;
      expect(error.code).toBe('EADDRINUSE');
      expect(redisCommand(redis.port, ['EXISTS', 'fedkit:busy-port:proc:p1'])).toEqual(['0']);
      expect(redisCommand(redis.port, ['SMEMBERS', 'fedkit:busy-port:procs'])).toEqual([]);
      expect(redisCommand(redis.port, ['EXISTS', 'fedkit:busy-port:lock'])).toEqual(['0']);
      await server.close(); // idempotent: a second close after the failed listen is harmless
    } finally {
      taken.close();
      await redis.stop();
    }
  });
});

describe('cluster: refused combinations', () => {
  const cluster = { redisUrl: 'redis://127.0.0.1:6379' };
  it.each([
    [{ strategy: { name: 'fedmedian' } }, 'strategy.name'],
    [{ strategy: { name: 'krum', numMaliciousClients: 1 } }, 'strategy.name'],
    [{ mode: 'async', async: { bufferSize: 2, maxStaleness: 3 } }, 'mode'],
    // Each SecAgg+ stage needs a few Redis polls: 4 × 100 ms do not fit the 100 ms of the shortest stage.
    [{ secureAggregation: { enabled: true }, minClients: 3, sampling: { minFit: 3 }, roundDeadlineMs: 1000 }, 'cluster.pollMs'],
    [{ secureAggregation: { enabled: true }, minClients: 3, sampling: { minFit: 3, overSelection: 1.5 } }, 'sampling.overSelection'],
    [{ privacy: { mode: 'distributed', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 } }, 'privacy.mode'],
    [{ foldOrder: 'client-id' }, 'foldOrder'],
  ])('%j is refused naming %s', (options, field) => {
    const { code, message } = codeOf(() => resolveServerOptions({ ...options, cluster }));
    expect(code).toBe('config-invalid');
    expect(message).toContain(`field "${field}"`);
  });

  it.each([
    [{ redisUrl: 'http://127.0.0.1:6379' }, 'cluster.redisUrl'],
    [{ redisUrl: 'redis://x', keyPrefix: 'a b' }, 'cluster.keyPrefix'],
    [{ redisUrl: 'redis://x', coordinatorLockTtlMs: 10 }, 'cluster.coordinatorLockTtlMs'],
    [{ redisUrl: 'redis://x', surprise: 1 }, 'cluster'],
    [{}, 'cluster.redisUrl'],
  ])('cluster %j is refused naming %s', (value, field) => {
    const { code, message } = codeOf(() => resolveServerOptions({ cluster: value }));
    expect(code).toBe('config-invalid');
    expect(message).toContain(`field "${field}"`);
  });

  it('the averaging strategies, the DP wrappers and encrypted updates are accepted', () => {
    for (const strategy of [{ name: 'fedavg' }, { name: 'fedavgm', momentum: 0.9 }, { name: 'fedprox', proximalMu: 0.1 }, { name: 'fedadam' }, { name: 'fedyogi' }, { name: 'fedadagrad' }]) {
      expect(resolveServerOptions({ strategy, cluster }).cluster?.redisUrl).toBe(cluster.redisUrl);
    }
    expect(resolveServerOptions({ cluster, privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 } }).privacy.mode).toBe('central');
    expect(resolveServerOptions({ cluster, privacy: { mode: 'local', clipNorm: 1, noiseMultiplier: 1 } }).privacy.mode).toBe('local');
    expect(resolveServerOptions({ cluster, encryptUpdates: true }).encryptUpdates).toBe(true);
  });

  it('secure aggregation, alone or with distributed DP, is accepted', () => {
    const secureAggregation = { enabled: true };
    expect(resolveServerOptions({ cluster, secureAggregation, minClients: 3, sampling: { minFit: 3 } }).secureAggregation?.enabled).toBe(true);
    const privacy = { mode: 'distributed', clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 };
    expect(resolveServerOptions({ cluster, secureAggregation, privacy, minClients: 3, sampling: { minFit: 3 } }).privacy.mode).toBe('distributed');
    // Fast enough polling fits short stages.
    expect(resolveServerOptions({ cluster: { ...cluster, pollMs: 20 }, secureAggregation, minClients: 3, sampling: { minFit: 3 }, roundDeadlineMs: 1000 }).cluster?.pollMs).toBe(20);
  });
});
