/**
 * Load (issue 6, part 5): thousands of connected clients while rounds of a thousand of them
 * run. By default one server process with 5,000 light clients in 10 child processes
 * (bench/load-clients.ts: real `FedkitClient`s over websockets whose trainer returns a fixed
 * update at once, no tfjs) and FedAvg rounds of 1,000 sampled participants on the 101,770
 * parameters of an MNIST MLP (784-128-10).
 *
 * - `roundMs` is the last round's `RoundMetrics.durationMs` (sampling → new global model);
 *   the earlier rounds warm up. `rssPerConnectionKB` is the server's RSS growth from before
 *   the first client connects to when all have joined, divided by the connections.
 * - Checked: every round completed with exactly `participants` replies, the clients trained
 *   that many times, and the model moved by the fixed update once per round.
 * - `--cluster-workers N`: N server processes sharing the federation through Redis
 *   (`fedkit server --cluster-workers N --redis-url URL`, Debian's redis-server started on a
 *   free port); refused with a message when this Fedkit's CLI has no cluster mode.
 *
 *     pnpm bench:load
 *     npx tsx --expose-gc bench/load.ts --connections 5000 --participants 1000 --procs 10 --rounds 2
 *     pnpm bench:load --cluster-workers 3 --connections 10000 --procs 20
 *
 * The last line printed is one JSON object.
 */
import { loadArguments, type LoadArguments } from './load-args.js';
import { clusterModeMissing, runCluster } from './load-cluster.js';
import { runSingleProcess } from './load-single.js';

function parsedArguments(): LoadArguments {
  try {
    return loadArguments(process.argv.slice(2));
  } catch (error) {
    console.error(`bench:load: ${(error as Error).message}`);
    process.exit(2);
  }
}

const args = parsedArguments();
if (args.clusterWorkers !== null) {
  const missing = clusterModeMissing();
  if (missing !== null) {
    console.error(`bench:load: ${missing}`);
    process.exit(2);
  }
}
console.log(args.clusterWorkers === null ? await runSingleProcess(args) : await runCluster(args, args.clusterWorkers));
