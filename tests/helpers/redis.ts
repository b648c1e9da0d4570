/**
 * A real Redis for the cluster tests: Debian's `redis-server` on a free port with its own
 * temp dir, started and stopped by the test itself (tests/global-setup.ts installs the
 * package on a fresh machine, or fails saying how). `restart()` kills it and starts a fresh
 * one on the same port with its data gone, as after a crash without persistence.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEM_PACKAGES } from './system-packages.js';

export interface RedisProcess {
  port: number;
  url: string;
  /** SIGKILLs it and starts a fresh, empty one on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function launch(port: number, dir: string): Promise<ChildProcess> {
  const binary = SYSTEM_PACKAGES['redis-server'].binary;
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on port ${port}:\n${out}`)), 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${binary} (install Debian's redis-server: sudo apt-get install -y redis-server): ${error.message}`));
    });
    child.stdout!.on('data', (data: Buffer) => {
      out += data.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`));
    });
  });
}

function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export async function startRedis(): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'fedkit-redis-'));
  const port = await freePort();
  let child = await launch(port, dir);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      await kill(child, 'SIGKILL');
      child = await launch(port, dir);
    },
    async stop() {
      await kill(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one command with Debian's redis-cli (installed with redis-server); the reply's lines. */
export function redisCommand(port: number, args: string[]): string[] {
  return execFileSync('/usr/bin/redis-cli', ['-p', String(port), '--raw', ...args], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '');
}

/** Runs one command with redis-cli, its last argument read from `input` (`-x`: binary-safe). */
export function redisCommandWithInput(port: number, args: string[], input: Buffer): string[] {
  return execFileSync('/usr/bin/redis-cli', ['-p', String(port), '--raw', '-x', ...args], { input, encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '');
}
