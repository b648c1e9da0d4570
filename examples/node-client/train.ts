import { loadMnistPartition, startNodeClient } from '@fedkit/client-node';

// This client's private data: partition 3 of 10 of MNIST (any LocalDataset works:
// { x: Float32Array, xShape: [784], y: Uint8Array, numClasses: 10, length }).
const train = await loadMnistPartition({ split: 'train', partition: { kind: 'iid' }, numClients: 10, index: 3, seed: 0 });

const node = await startNodeClient({
  serverUrl: process.env.FEDKIT_SERVER ?? 'http://127.0.0.1:8080',
  clientId: 'node-example-3',
  train,
});
node.client.on('train-done', ({ round, metrics }) => console.log(`round ${round}: loss ${metrics.loss?.toFixed(4)}`));
const finished = await node.finished;
console.log(`training finished: ${finished.reason}`);
