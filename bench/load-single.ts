/**
 * bench:load's single-process variant: the real `FederationServer` on port 0 in this
 * process, with its default per-connection limits (they bound each connection, not how many
 * there are) and the round deadline and transfer timeout raised to 10 minutes, so that a
 * slow shared machine measures time instead of failing the round. RSS per connection is
 * this process's RSS growth from before the first client connects to when all have joined
 * (after a GC when node runs with --expose-gc).
 */
import type { ChildProcess } from 'node:child_process';
import { FederationServer, createLogger, type RoundMetrics } from '@fedkit/server';
import { layoutSize, seededRandomSource } from '@fedkit/protocol';
import type { LoadArguments } from './load-args.js';
import { checkRun, clientStats, forkLoadClients, loadFederationOptions, loadLine, mib, mlpModel, printRound, resultLine, stopLoadClients } from './load-common.js';

const gc = (globalThis as { gc?: () => void }).gc;
function rssAfterGc(): number {
  gc?.();
  return process.memoryUsage().rss;
}

/** Runs the variant; resolves to the bench's last line. */
export async function runSingleProcess(args: LoadArguments): Promise<string> {
  const { connections, participants, procs, rounds } = args;
  const model = mlpModel();
  const params = layoutSize(model.layout);
  const history: RoundMetrics[] = [];
  const server = new FederationServer({
    model,
    ...loadFederationOptions(args),
    random: seededRandomSource(1),
    logger: createLogger(process.env.FEDKIT_LOG_LEVEL ?? 'warn'),
  });
  server.on('round', (metrics) => {
    history.push(metrics);
    printRound(metrics);
  });
  const port = await server.listen(0);
  const rssBefore = rssAfterGc();
  console.log(`load: one server process, ${connections} clients in ${procs} processes, ${participants} participants a round, P = ${params}, ${rounds} rounds; load average at start ${loadLine()}${gc === undefined ? ' (no --expose-gc: RSS without a forced GC)' : ''}`);

  const children: ChildProcess[] = [];
  try {
    const joinMs = await forkLoadClients(args, `http://127.0.0.1:${port}`, params, children);
    const joined = server.status().clients.total;
    if (joined !== connections) throw new Error(`expected ${connections} joined clients, the server has ${joined}`);
    const rssJoined = rssAfterGc();
    const rssPerConnectionKB = (rssJoined - rssBefore) / connections / 1024;
    console.log(`  ${connections} joined in ${(joinMs / 1000).toFixed(1)} s; server RSS ${mib(rssBefore)} → ${mib(rssJoined)} MiB (${rssPerConnectionKB.toFixed(1)} KiB per connection)`);
    const idle = await clientStats(children);
    console.log(`  client processes joined and idle: ${mib(idle.rssBytes)} MiB in all (${(idle.rssBytes / connections / 1024).toFixed(0)} KiB per client)`);

    const cpuStart = process.cpuUsage();
    await server.run();
    const cpu = process.cpuUsage(cpuStart);
    const rssEnd = process.memoryUsage().rss;
    const after = await clientStats(children);
    checkRun(args, history, after.trained, after.errors, { initial: model.weights[params - 1]!, final: server.currentWeights()[params - 1]! });

    const last = history[history.length - 1]!;
    console.log(`  server RSS after the rounds ${mib(rssEnd)} MiB; client processes ${mib(after.rssBytes)} MiB in all (${(after.rssBytes / connections / 1024).toFixed(0)} KiB per client)`);
    console.log(`  last round ${last.durationMs} ms: ${((last.bytesOut + last.bytesIn) / 1e6).toFixed(0)} MB moved; server CPU ${((cpu.user + cpu.system) / 1000 / rounds).toFixed(0)} ms per round (mean); load average at end ${loadLine()}`);
    return resultLine(args, params, last.durationMs, rssPerConnectionKB);
  } finally {
    stopLoadClients(children);
    await server.close();
  }
}
