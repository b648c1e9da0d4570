/**
 * `fedkit server --cluster-workers N`: the primary process of a node:cluster group. It checks
 * the config and that Redis answers (failing at start, naming the URL), forks N workers that
 * each run the ordinary server on the same port with the cluster option, and forks a new
 * worker for each one that dies before the federation ends. The workers share the port
 * through node:cluster and the federation through Redis; clients connect with the websocket
 * transport only, so no sticky sessions are needed.
 */
import cluster from 'node:cluster';
import { checkRedisReachable, createLogger, redactRedisUrl, resolveServerOptions, type ServerOptionsInput } from '@fedkit/server';

/** Workers dying before they listen, this many times in a row, end the group (a bad config or model). */
const MAX_EARLY_DEATHS = 3;

/** What a worker tells the primary once its server listens. */
export const LISTENING_MESSAGE = 'fedkit-server-listening';
/**
 * What a worker tells the primary when the federation has ended (completed, stopped, budget
 * spent), as opposed to this one process shutting down: only then does the primary stop
 * replacing workers that exit.
 */
export const FINISHED_MESSAGE = 'fedkit-federation-finished';

/** The config's federation options with --redis-url put in `cluster.redisUrl` (and `cluster` turned on). */
export function clusterFederation(federation: Record<string, unknown>, redisUrl: string | undefined): Record<string, unknown> {
  const cluster = (typeof federation.cluster === 'object' && federation.cluster !== null ? federation.cluster : {}) as Record<string, unknown>;
  return { ...federation, cluster: redisUrl === undefined ? cluster : { ...cluster, redisUrl } };
}

/** Runs the primary until every worker has exited; resolves to the exit code. */
export async function runClusterPrimary(workers: number, federation: ServerOptionsInput, print: (line: string) => void): Promise<number> {
  const options = resolveServerOptions(federation);
  await checkRedisReachable(options.cluster!.redisUrl, options.cluster!.connectTimeoutMs, createLogger(process.env.FEDKIT_LOG_LEVEL ?? 'warn'));
  let stopping = false;
  let finished = false;
  let earlyDeaths = 0;
  const listening = new Set<number>();
  // Counted here, not from cluster.workers: a worker leaves that map only once it has both
  // exited and disconnected, which may come after its 'exit' event (the last worker's exit
  // would then resolve nothing, and the primary would end with an unsettled await).
  const alive = new Set<number>();
  const fork = (): void => {
    const worker = cluster.fork();
    alive.add(worker.id);
    worker.on('message', (message: unknown) => {
      if (message === LISTENING_MESSAGE) {
        listening.add(worker.id);
        earlyDeaths = 0;
      } else if (message === FINISHED_MESSAGE) finished = true;
    });
  };
  const stop = (): void => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  print(`fedkit cluster: starting ${workers} server processes sharing ${redactRedisUrl(options.cluster!.redisUrl)}`);
  for (let i = 0; i < workers; i++) fork();
  const code = await new Promise<number>((resolve) => {
    cluster.on('exit', (worker, exitCode, signal) => {
      alive.delete(worker.id);
      // A worker that exits cleanly on its own (say, a SIGTERM sent to it alone) is replaced too.
      if (!stopping && !finished) {
        if (!listening.has(worker.id)) earlyDeaths++;
        if (earlyDeaths >= MAX_EARLY_DEATHS) {
          print(`fedkit cluster: workers keep dying at start (last: ${signal ?? `exit code ${exitCode}`}); stopping`);
          stop();
        } else {
          print(`fedkit cluster: worker ${worker.process.pid} died (${signal ?? `exit code ${exitCode}`}); starting another`);
          fork();
        }
      }
      if (alive.size === 0) resolve(finished || stopping ? (earlyDeaths >= MAX_EARLY_DEATHS ? 1 : 0) : 1);
    });
  });
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  return code;
}
