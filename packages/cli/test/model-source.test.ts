import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMnist2nn, getFlatWeights } from '@fedkit/client-core';
import { initNodeBackend } from '@fedkit/client-node';
import { loadTfjsModel, saveTfjsModel } from '@fedkit/server';
import { loadConfigFile } from '../src/config-file.js';
import { resolveModel } from '../src/model-source.js';

beforeAll(async () => {
  await initNodeBackend({ backend: 'cpu' });
});

/** Saves `model` exactly as tfjs's file:// handler lays it out: model.json + one .bin shard. */
async function saveLikeTfjs(model: tfl.LayersModel, dir: string): Promise<string> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      writeFileSync(join(dir, 'weights.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
      writeFileSync(
        join(dir, 'model.json'),
        JSON.stringify({
          modelTopology: artifacts.modelTopology,
          format: artifacts.format,
          generatedBy: artifacts.generatedBy,
          convertedBy: artifacts.convertedBy,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return join(dir, 'model.json');
}

describe('models from files and factories', () => {
  it('reads a model saved in the tfjs format: same tensors, same weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-model-'));
    const model = createMnist2nn({ seed: 3 });
    const path = await saveLikeTfjs(model, dir);
    const loaded = await loadTfjsModel(path);
    expect(loaded.layout.map((t) => t.shape)).toEqual([[784, 200], [200], [200, 200], [200], [200, 10], [10]]);
    expect(Buffer.compare(Buffer.from(loaded.weights.buffer, loaded.weights.byteOffset, loaded.weights.byteLength), Buffer.from(getFlatWeights(model).buffer))).toBe(0);
    model.dispose();
  });

  it('writes models that tfjs loads back with the same weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-model-'));
    const definition = await resolveModel({ kind: 'builtin', name: 'mnist-2nn' });
    const path = await saveTfjsModel(dir, definition);
    const json = JSON.parse(readFileSync(path, 'utf8')) as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
    const bytes = readFileSync(join(dir, 'weights.bin'));
    const restored = await tfl.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0]!.weights, weightData: new Uint8Array(bytes).buffer }),
    );
    expect(Buffer.compare(Buffer.from(getFlatWeights(restored).buffer), Buffer.from(definition.weights.buffer))).toBe(0);
    restored.dispose();
  });

  it('builds a model from a factory in a JS config', async () => {
    const config = await loadConfigFile(fileURLToPath(new URL('./fixtures/factory.config.mjs', import.meta.url)));
    const definition = await resolveModel(config.model);
    expect(definition.layout).toEqual([
      { name: 'tiny_dense/kernel', shape: [4, 3] },
      { name: 'tiny_dense/bias', shape: [3] },
    ]);
    expect(definition.weights).toHaveLength(15);
  });

  it('loads a TypeScript config with a typed factory', async () => {
    const config = await loadConfigFile(fileURLToPath(new URL('./fixtures/factory.config.ts', import.meta.url)));
    const definition = await resolveModel(config.model);
    expect(definition.layout).toEqual([
      { name: 'tiny_ts_dense/kernel', shape: [3, 2] },
      { name: 'tiny_ts_dense/bias', shape: [2] },
    ]);
    expect(config.federation.rounds).toBe(1);
  });

  it('names what is wrong with a bad model file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedkit-model-'));
    const write = (json: unknown, bin?: Uint8Array) => {
      writeFileSync(join(dir, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));
      if (bin) writeFileSync(join(dir, 'w.bin'), bin);
      return join(dir, 'model.json');
    };
    const manifest = (weights: unknown[]) => [{ paths: ['w.bin'], weights }];
    await expect(loadTfjsModel(join(dir, 'none.json'))).rejects.toThrow(/cannot read model.json/);
    await expect(loadTfjsModel(write('{oops'))).rejects.toThrow(/cannot read model.json/);
    await expect(loadTfjsModel(write({ weightsManifest: [] }))).rejects.toThrow(/field "modelTopology" is missing/);
    await expect(loadTfjsModel(write({ modelTopology: {} }))).rejects.toThrow(/field "weightsManifest" is missing/);
    await expect(
      loadTfjsModel(write({ modelTopology: {}, weightsManifest: manifest([{ name: 'k', shape: [2], dtype: 'float32', quantization: { dtype: 'uint8' } }]) }, new Uint8Array(2))),
    ).rejects.toThrow(/only float32 is supported/);
    await expect(
      loadTfjsModel(write({ modelTopology: {}, weightsManifest: manifest([{ name: 'k', shape: [2], dtype: 'float32' }]) }, new Uint8Array(4))),
    ).rejects.toThrow('weight shards hold 4 bytes, the manifest needs 8');
    const nan = new Float32Array([1, Number.NaN]);
    await expect(
      loadTfjsModel(write({ modelTopology: {}, weightsManifest: manifest([{ name: 'k', shape: [2], dtype: 'float32' }]) }, new Uint8Array(nan.buffer))),
    ).rejects.toThrow(/model tensor "k" holds NaN/);
  });

  it('rejects a factory that does not return a model', async () => {
    await expect(resolveModel({ kind: 'factory', factory: () => 42 })).rejects.toThrow('the model factory must return a tfjs LayersModel');
    await expect(
      resolveModel({
        kind: 'factory',
        factory: () => {
          throw new Error('boom');
        },
      }),
    ).rejects.toThrow('the model factory threw: boom');
  });
});
