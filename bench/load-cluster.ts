/**
 * bench:load's multi-process variant: `fedkit server --cluster-workers N --redis-url URL`
 * (the built CLI) sharing one federation through Debian's redis-server, which this file
 * starts on a free port in a temp dir, and the same light clients connecting to the
 * cluster's one port (node:cluster spreads the connections over the workers).
 *
 * `roundMs` comes from the metrics.json the server writes in its data dir; RSS per
 * connection is the growth of the summed RSS of the server's processes (the primary and its
 * workers, read from /proc; no forced GC in them) from when every worker listens to when
 * every client has joined. The final model is read back from the data dir.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { RoundMetrics } from '@fedkit/server';
import { layoutSize } from '@fedkit/protocol';
import { CLI } from '../tests/helpers/cli.js';
import { startRedis } from '../tests/helpers/redis.js';
import { writeServerDir } from '../tests/helpers/server-dir.js';
import type { LoadArguments } from './load-args.js';
import { checkRun, clientStats, forkLoadClients, loadFederationOptions, loadLine, mib, mlpModel, printRound, resultLine, stopLoadClients } from './load-common.js';


/** Why the cluster variant cannot run with this build, or null when it can. */
export function clusterModeMissing(): string | null {
  let help: string;
  try {
    help = execFileSync(process.execPath, [CLI, 'server', '--help'], { encoding: 'utf8' });
  } catch (error) {
    return `--cluster-workers: cannot run the CLI at ${CLI} (build first: pnpm build): ${(error as Error).message}`;
  }
  if (!help.includes('--cluster-workers')) {
    return (
      '--cluster-workers: the multi-process variant (N server processes + Redis) needs `fedkit server --cluster-workers N --redis-url URL`, ' +
      'which this version of Fedkit does not have yet; run without --cluster-workers for the single-process bench'
    );
  }
  return null;
}

/** Summed RSS (bytes) of `pid` and its child processes, from /proc. */
function treeRss(pid: number): number {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat, after the parenthesised command name, is the parent pid.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  let kb = 0;
  for (const p of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // Gone.
    }
  }
  return kb * 1024;
}

/** Runs the variant with `workers` server processes; resolves to the bench's last line. */
export async function runCluster(args: LoadArguments, workers: number): Promise<string> {
  const { connections, participants, procs, rounds } = args;
  const model = mlpModel();
  const params = layoutSize(model.layout);
  const { dir, config, dataDir } = await writeServerDir('fedkit-load-cluster-', model, { ...loadFederationOptions(args), cluster: { federationId: 'load' } });
  // Debian's redis-server on a free port without persistence, as the cluster tests start it.
  const redis = await startRedis();
  const children: ChildProcess[] = [];
  let server: ChildProcess | null = null;
  const cleanUp = (): void => {
    stopLoadClients(children);
    if (server !== null && server.exitCode === null) server.kill('SIGTERM');
    void redis.stop(); // sends SIGTERM at once
    rmSync(dir, { recursive: true, force: true });
  };
  // Interrupted: the server processes and Redis are not our IPC children and would outlive us.
  const interrupted = (): void => {
    cleanUp();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    server = spawn(process.execPath, [CLI, 'server', '--config', config, '--data-dir', dataDir, '--cluster-workers', String(workers), '--redis-url', redis.url], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FEDKIT_LOG_LEVEL: process.env.FEDKIT_LOG_LEVEL ?? 'warn' },
    });
    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      let listening = 0;
      createInterface({ input: server!.stdout! }).on('line', (line) => {
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        if (match !== null && ++listening === workers) resolve(Number(match[1]));
      });
      void exited.then((code) => reject(new Error(`fedkit server exited (${code}) before its ${workers} workers listened`)));
    });
    const rssBefore = treeRss(server.pid!);
    console.log(`load: ${workers} server processes + Redis, ${connections} clients in ${procs} processes, ${participants} participants a round, P = ${params}, ${rounds} rounds; load average at start ${loadLine()}`);

    const joinMs = await forkLoadClients(args, `http://127.0.0.1:${port}`, params, children);
    const rssJoined = treeRss(server.pid!);
    const rssPerConnectionKB = (rssJoined - rssBefore) / connections / 1024;
    console.log(`  ${connections} joined in ${(joinMs / 1000).toFixed(1)} s; server processes' RSS ${mib(rssBefore)} → ${mib(rssJoined)} MiB (${rssPerConnectionKB.toFixed(1)} KiB per connection)`);

    const code = await exited;
    if (code !== 0) throw new Error(`fedkit server exited with code ${code}`);
    const history = (JSON.parse(readFileSync(join(dataDir, 'metrics.json'), 'utf8')) as { rounds: RoundMetrics[] }).rounds;
    history.forEach(printRound);
    const after = await clientStats(children);
    const final = readFileSync(join(dataDir, 'model', 'weights.bin')).readFloatLE((params - 1) * 4);
    checkRun(args, history, after.trained, after.errors, { initial: model.weights[params - 1]!, final });
    const last = history[history.length - 1]!;
    console.log(`  last round ${last.durationMs} ms; client processes ${mib(after.rssBytes)} MiB in all; load average at end ${loadLine()}`);
    return resultLine(args, params, last.durationMs, rssPerConnectionKB);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    cleanUp();
  }
}
