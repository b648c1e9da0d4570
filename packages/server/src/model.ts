/**
 * The model as the server holds it: a Keras-format topology for clients to rebuild, the
 * tensor layout, and the flat float32 weights. The server never needs tfjs: it reads and
 * writes the standard tfjs save format (`model.json` + `.bin` shards) directly.
 */
import { readFile, writeFile, mkdir, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  FedkitError,
  assertFinite,
  assertValidLayout,
  encodeFloat32,
  layoutSize,
  type TensorSpec,
  type WeightsLayout,
} from '@fedkit/protocol';

export interface ModelDefinition {
  /** Keras-format topology (tfjs `modelTopology`); null when clients bring their own model. */
  topology: Record<string, unknown> | null;
  layout: WeightsLayout;
  /** Initial global weights, flat, in layout order. */
  weights: Float32Array;
}

/** Checks that weights match the layout and are finite. Throws `model-invalid`. */
export function validateModel(model: ModelDefinition): void {
  try {
    assertValidLayout(model.layout);
  } catch (error) {
    throw new FedkitError('model-invalid', `model layout: ${(error as Error).message}`);
  }
  const expected = layoutSize(model.layout);
  if (model.weights.length !== expected) {
    throw new FedkitError('model-invalid', `model has ${model.weights.length} weights, its layout needs ${expected}`);
  }
  try {
    assertFinite(model.weights, model.layout, 'model');
  } catch (error) {
    throw new FedkitError('model-invalid', (error as Error).message);
  }
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype?: string;
  quantization?: unknown;
}

/**
 * Reads a model saved in the tfjs format (`model.save('file://dir')` or the converter):
 * `model.json` plus its weight shards. Only float32 weights are accepted.
 */
export async function loadTfjsModel(modelJsonPath: string): Promise<ModelDefinition> {
  const path = resolve(modelJsonPath);
  let json: {
    modelTopology?: Record<string, unknown>;
    weightsManifest?: { paths: string[]; weights: ManifestEntry[] }[];
  };
  try {
    json = JSON.parse(await readFile(path, 'utf8')) as typeof json;
  } catch (error) {
    throw new FedkitError('model-invalid', `cannot read model.json at ${path}: ${(error as Error).message}`);
  }
  if (typeof json.modelTopology !== 'object' || json.modelTopology === null) {
    throw new FedkitError('model-invalid', `${path}: field "modelTopology" is missing (is this a tfjs layers model?)`);
  }
  if (!Array.isArray(json.weightsManifest)) {
    throw new FedkitError('model-invalid', `${path}: field "weightsManifest" is missing`);
  }
  const layout: TensorSpec[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const w of group.weights) {
      if ((w.dtype ?? 'float32') !== 'float32' || w.quantization !== undefined) {
        throw new FedkitError('model-invalid', `${path}: weight "${w.name}" is ${w.dtype}${w.quantization ? ' (quantized)' : ''}; only float32 is supported`);
      }
      layout.push({ name: w.name, shape: w.shape });
    }
    for (const shard of group.paths) {
      const shardPath = join(dirname(path), shard);
      try {
        parts.push(await readFile(shardPath));
      } catch (error) {
        throw new FedkitError('model-invalid', `cannot read weight shard ${shardPath}: ${(error as Error).message}`);
      }
    }
  }
  const totalBytes = parts.reduce((n, p) => n + p.byteLength, 0);
  const expectedBytes = layoutSize(layout) * 4;
  if (totalBytes !== expectedBytes) {
    throw new FedkitError('model-invalid', `${path}: weight shards hold ${totalBytes} bytes, the manifest needs ${expectedBytes}`);
  }
  const bytes = new Uint8Array(totalBytes);
  let offset = 0;
  for (const p of parts) {
    bytes.set(p, offset);
    offset += p.byteLength;
  }
  const weights = new Float32Array(bytes.buffer, 0, totalBytes / 4);
  const model: ModelDefinition = { topology: json.modelTopology, layout, weights };
  validateModel(model);
  return model;
}

/** The tfjs `model.json` for a model whose weights live in one shard named `weightsPath`. */
export function tfjsModelJson(model: ModelDefinition, weightsPath: string): Record<string, unknown> {
  return {
    format: 'layers-model',
    generatedBy: 'fedkit',
    convertedBy: null,
    modelTopology: model.topology,
    weightsManifest: [
      { paths: [weightsPath], weights: model.layout.map((t) => ({ name: t.name, shape: t.shape, dtype: 'float32' })) },
    ],
  };
}

/**
 * Writes `model.json` and `weights.bin` into `dir` in the tfjs format (loadable with
 * `tf.loadLayersModel('file://dir/model.json')`), each file atomically (write then rename).
 */
export async function saveTfjsModel(dir: string, model: ModelDefinition, weights: Float32Array = model.weights): Promise<string> {
  await mkdir(dir, { recursive: true });
  const binPath = join(dir, 'weights.bin');
  const jsonPath = join(dir, 'model.json');
  await writeFile(`${binPath}.tmp`, encodeFloat32(weights));
  await rename(`${binPath}.tmp`, binPath);
  await writeFile(`${jsonPath}.tmp`, JSON.stringify(tfjsModelJson({ ...model, weights }, 'weights.bin')));
  await rename(`${jsonPath}.tmp`, jsonPath);
  return jsonPath;
}
