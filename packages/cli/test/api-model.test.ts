/**
 * `GET /api/model` is a real tfjs model: `tf.loadLayersModel` over HTTP (tfjs's own http
 * handler, fetching model.json and then its weight shard) gives the server's current model,
 * before and after a round moves it.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FedkitClient } from '@fedkit/client-core';
import { getFlatWeights } from '@fedkit/client-core';
import { initNodeBackend } from '@fedkit/client-node';
import type { FederationServer } from '@fedkit/server';
import { resolveModel } from '../src/model-source.js';
import { constantTrainer, startClient, startServer } from '../../../tests/helpers/federation.js';

let server: FederationServer | undefined;
const clients: FedkitClient[] = [];

beforeAll(async () => {
  await initNodeBackend({ backend: 'cpu' });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.stop();
  await server?.close();
  server = undefined;
});

async function loadOverHttp(url: string): Promise<{ model: tfl.LayersModel; weights: Float32Array }> {
  const model = await tfl.loadLayersModel(`${url}/api/model`);
  return { model, weights: getFlatWeights(model) };
}

describe('GET /api/model', () => {
  it('loads with tf.loadLayersModel and tracks the global model across rounds', async () => {
    const definition = await resolveModel({ kind: 'builtin', name: 'mnist-2nn' });
    const started = await startServer({ model: definition, rounds: 1, minClients: 2 });
    server = started.server;

    const before = await loadOverHttp(started.url);
    expect(before.model.inputs[0]!.shape).toEqual([null, 784]);
    expect(before.model.outputs[0]!.shape).toEqual([null, 10]);
    expect(before.weights).toEqual(definition.weights);
    const prediction = tf.tidy(() => (before.model.predict(tf.ones([1, 784])) as tf.Tensor).dataSync());
    expect(prediction).toHaveLength(10);
    expect(Array.from(prediction).reduce((s, p) => s + p, 0)).toBeCloseTo(1, 5);
    before.model.dispose();

    const summary = server.run();
    clients.push(startClient(started.url, 'a', constantTrainer(0.01)), startClient(started.url, 'b', constantTrainer(0.01)));
    expect((await summary).roundsCompleted).toBe(1);

    const modelJson = (await (await fetch(`${started.url}/api/model`)).json()) as { weightsManifest: { paths: string[] }[] };
    expect(modelJson.weightsManifest[0]!.paths).toEqual(['model/weights.bin?version=1']);
    const after = await loadOverHttp(started.url);
    expect(after.weights).toEqual(server.currentWeights());
    expect(after.weights[0]).toBeCloseTo(definition.weights[0]! + 0.01, 6);
    after.model.dispose();
  });
});
