/**
 * `fedkit server`: run an aggregation server from a config file until training completes
 * or SIGINT/SIGTERM, writing each round's metrics and the final model under --data-dir.
 */
import cluster from 'node:cluster';
import { join, resolve } from 'node:path';
import { initNodeBackend } from '@fedkit/client-node';
import { clientWebAssets } from '@fedkit/client-web/assets';
import { FederationServer, createLogger, saveTfjsModel } from '@fedkit/server';
import { helpText, intFlag, parseFlags, requiredFlag, type CommandSpec } from '../args.js';
import { createCentralEvaluator } from '../central-evaluation.js';
import { loadConfigFile } from '../config-file.js';
import { resolveModel } from '../model-source.js';
import { printJsonSummary, writeJsonAtomic } from '../output.js';
import { ProgressDisplay } from '../progress.js';
import { FINISHED_MESSAGE, LISTENING_MESSAGE, clusterFederation, runClusterPrimary } from './server-cluster.js';

export const serverCommand: CommandSpec = {
  name: 'server',
  summary: 'Run an aggregation server: coordinates rounds, aggregates updates, serves /api/status.',
  usage: 'fedkit server --config FILE [--port N] [--host HOST] [--data-dir DIR] [--cluster-workers N] [--redis-url URL] [--json]',
  flags: {
    config: { value: 'FILE', description: 'config file (.json, .js or .mjs), e.g. examples/mnist-2nn/fedkit.config.json' },
    port: { value: 'N', description: 'port to listen on; 0 picks a free one (overrides the config)' },
    host: { value: 'HOST', description: 'address to bind (overrides the config)' },
    'data-dir': {
      value: 'DIR',
      description: 'where the server persists its state after every round (and resumes from), metrics.json and the final model (overrides federation.dataDir)',
      default: '.fedkit/server',
    },
    'cluster-workers': {
      value: 'N',
      description: 'run N server processes on the port (node:cluster), sharing the federation through Redis; a worker that dies is replaced',
    },
    'redis-url': {
      value: 'URL',
      description: 'scale-out: share the federation with other server processes through this Redis, e.g. redis://127.0.0.1:6379 (sets federation.cluster.redisUrl)',
    },
  },
};

export async function runServerCommand(argv: string[]): Promise<number> {
  const values = parseFlags(serverCommand, argv);
  if (values.help) {
    process.stdout.write(helpText(serverCommand));
    return 0;
  }
  const workers = intFlag(values, 'cluster-workers', { min: 1, max: 256 });
  const redisUrl = typeof values['redis-url'] === 'string' ? values['redis-url'] : undefined;
  const config = await loadConfigFile(requiredFlag(values, 'config'), workers !== undefined || redisUrl !== undefined ? (f) => clusterFederation(f, redisUrl) : undefined);
  const port = intFlag(values, 'port', { min: 0, max: 65535, fallback: config.server.port })!;
  const host = typeof values.host === 'string' ? values.host : config.server.host;
  const dataDir = resolve(typeof values['data-dir'] === 'string' ? values['data-dir'] : (config.federation.dataDir ?? '.fedkit/server'));
  const json = values.json === true;
  if (workers !== undefined && cluster.isPrimary) return runClusterPrimary(workers, { ...config.federationInput, dataDir }, (line) => process.stdout.write(`${line}\n`));

  const needsTfjs = config.model.kind !== 'path' || config.centralEvaluation !== null;
  if (needsTfjs) await initNodeBackend({});
  const model = await resolveModel(config.model);
  const evaluator = config.centralEvaluation === null ? null : await createCentralEvaluator(model, config.centralEvaluation);
  const browserAssets = clientWebAssets();
  const server = new FederationServer({
    ...config.federationInput,
    dataDir,
    // Browsers load the SDK bundle and tfjs's .wasm binaries from this server, never a CDN.
    staticMounts: { '/fedkit/client-web': browserAssets.bundleDir, '/fedkit/tfjs-wasm': browserAssets.wasmDir },
    model,
    logger: createLogger(process.env.FEDKIT_LOG_LEVEL ?? 'warn'),
    ...(config.server.adminToken === undefined ? {} : { adminToken: config.server.adminToken }),
    ...(config.server.adminTokenFile === undefined ? {} : { adminTokenFile: config.server.adminTokenFile }),
    ...(evaluator === null ? {} : { centralEvaluate: (weights: Float32Array) => evaluator.evaluate(weights) }),
  });
  const boundPort = await server.listen(port, host);
  if (cluster.isWorker) process.send?.(LISTENING_MESSAGE);
  const progress = new ProgressDisplay(process.stdout, config.federation.rounds);
  const resumed = server.resumedFrom;
  if (resumed !== null) {
    progress.print(`resumed from ${dataDir} after round ${resumed.round} (model version ${resumed.modelVersion}, sha256 ${resumed.modelSha256})`);
  }
  progress.print(`fedkit server listening on ${config.federation.tls === undefined ? 'http' : 'https'}://${host}:${boundPort} (dashboard: /dashboard/ · status: /api/status · metrics: /metrics) · waiting for ${config.federation.minClients} clients`);
  const metricsPath = join(dataDir, 'metrics.json');
  server.on('stage', (stage) => progress.update({ stage }));
  // In a cluster only the coordinator writes the shared data dir's metrics and model.
  const writes = (): boolean => server.cluster === null || server.cluster.isCoordinator || server.cluster.ledFinish;
  server.on('round', (metrics) => {
    progress.round(metrics);
    if (writes()) void writeJsonAtomic(metricsPath, { rounds: server.roundHistory() });
  });
  const stop = (): void => {
    progress.print('shutting down…');
    void server.close('server-shutting-down');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const summary = await server.run();
  if (cluster.isWorker && summary.reason !== 'server-shutting-down') {
    await new Promise<void>((resolve) => (process.send === undefined ? resolve() : process.send(FINISHED_MESSAGE, () => resolve())));
  }
  progress.finish();
  const leads = writes();
  if (leads) await writeJsonAtomic(metricsPath, { rounds: summary.rounds });
  const modelPath = leads ? await saveTfjsModel(join(dataDir, 'model'), server.modelDefinition()) : join(dataDir, 'model');
  await server.close();
  evaluator?.dispose();
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (!leads) {
    progress.print(`${summary.message} (process ${server.cluster!.processId} followed the coordinator)`);
    return 0;
  }
  progress.print(`${summary.message} · metrics: ${metricsPath} · model: ${modelPath}`);
  printJsonSummary(json, {
    command: 'server',
    port: boundPort,
    reason: summary.reason,
    roundsCompleted: summary.roundsCompleted,
    finalAccuracy: summary.finalAccuracy,
    metricsPath,
    modelPath,
  });
  return 0;
}
