/**
 * `fedkit client`: one real Node client process training on one MNIST partition. Every
 * client computes the same partition from the same seed, so K processes started with
 * indices 0..K−1 hold disjoint parts without coordinating.
 */
import { loadMnistPartition, startNodeClient } from '@fedkit/client-node';
import { FedkitError } from '@fedkit/protocol';
import { enumFlag, helpText, intFlag, parseFlags, requiredFlag, requiredIntFlag, urlFlag, type CommandSpec } from '../args.js';
import { loadOrCreateIdentity } from '../identity-file.js';
import { printJsonSummary } from '../output.js';
import { partitionFlag } from '../partition-flag.js';

export const clientCommand: CommandSpec = {
  name: 'client',
  summary: 'Run a Node client that trains on one partition of MNIST and joins a server.',
  usage:
    'fedkit client --server URL --dataset mnist --partition iid|shards|dirichlet:ALPHA --num-partitions K --partition-index I [--backend wasm|cpu] [--token TOKEN] [--json]',
  flags: {
    server: { value: 'URL', description: 'the server, e.g. http://localhost:8080' },
    dataset: { value: 'mnist', description: 'the local data set' },
    partition: { value: 'SPEC', description: 'iid, shards (2 label shards per client, as McMahan et al.) or dirichlet:ALPHA', default: 'iid' },
    'num-partitions': { value: 'K', description: 'number of partitions the training set is split into' },
    'partition-index': { value: 'I', description: 'this client’s partition, 0 ≤ I < K' },
    backend: { value: 'wasm|cpu', description: 'tfjs backend', default: 'wasm' },
    'client-id': { value: 'ID', description: 'stable client id', default: 'mnist-<partition>-<index>' },
    seed: { value: 'N', description: 'partition seed; every client of a federation must use the same', default: '0' },
    limit: { value: 'N', description: 'use only the first N training examples before partitioning (for quick runs)' },
    identity: { value: 'FILE', description: 'Ed25519 identity key file, created if missing (keep it private)', default: 'a new identity each run' },
    token: { value: 'TOKEN', description: 'enrollment token from the operator (fedkit token create); or set FEDKIT_TOKEN' },
  },
};

export async function runClientCommand(argv: string[]): Promise<number> {
  const values = parseFlags(clientCommand, argv);
  if (values.help) {
    process.stdout.write(helpText(clientCommand));
    return 0;
  }
  const serverUrl = urlFlag(values, 'server');
  requiredFlag(values, 'dataset');
  enumFlag(values, 'dataset', ['mnist'] as const);
  const { text: partitionText, spec: partition } = partitionFlag(values);
  const numClients = requiredIntFlag(values, 'num-partitions', { min: 1 });
  const index = requiredIntFlag(values, 'partition-index', { min: 0 });
  if (index >= numClients) throw new FedkitError('config-invalid', `--partition-index must be below --num-partitions (${numClients}), got ${index}`);
  const backend = enumFlag(values, 'backend', ['wasm', 'cpu'] as const, 'wasm')!;
  const seed = intFlag(values, 'seed', { min: 0, fallback: 0 })!;
  const limit = intFlag(values, 'limit', { min: 1 });
  const clientId = typeof values['client-id'] === 'string' ? values['client-id'] : `mnist-${partitionText.replace(/[^A-Za-z0-9.]/g, '-')}-${index}`;
  const json = values.json === true;

  const train = await loadMnistPartition({ split: 'train', partition, numClients, index, seed, ...(limit === undefined ? {} : { limit }) });
  // Held-out data for federated evaluation: this client's IID share of the test set.
  const test = await loadMnistPartition({ split: 'test', partition: { kind: 'iid' }, numClients, index, seed });
  const log = (level: string, message: string): void => {
    if (level === 'warn' || level === 'error') process.stderr.write(`[${clientId}] ${message}\n`);
  };
  const identity = typeof values.identity === 'string' ? await loadOrCreateIdentity(values.identity) : null;
  if (identity?.created) process.stdout.write(`client ${clientId}: created identity key ${values.identity as string}\n`);
  const authToken = typeof values.token === 'string' ? values.token : process.env.FEDKIT_TOKEN;
  const node = await startNodeClient({
    serverUrl,
    clientId,
    train,
    test,
    backend,
    log,
    ...(identity === null ? {} : { identity: identity.identity }),
    ...(authToken === undefined || authToken === '' ? {} : { authToken }),
  });
  process.stdout.write(`client ${clientId}: ${train.length} training and ${test.length} held-out examples, backend ${node.backend} (${node.backendReason}); connecting to ${serverUrl}\n`);
  let roundsTrained = 0;
  node.client.on('train-done', ({ round, metrics }) => {
    roundsTrained++;
    process.stdout.write(`client ${clientId}: round ${round} trained · loss ${metrics.loss?.toFixed(4)} · ${Math.round(metrics.samplesPerSec ?? 0)} samples/s\n`);
  });
  const stop = (): void => node.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const finished = await node.finished;
    process.stdout.write(`client ${clientId}: server finished training (${finished.reason}): ${finished.message}\n`);
    printJsonSummary(json, { command: 'client', clientId, backend: node.backend, roundsTrained, finished: finished.reason });
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
