/**
 * A temp folder for `fedkit server --config`: a model.json with only the model's layout and
 * weights (the server needs no topology; the empty one satisfies model.json's form) and a
 * config file holding `federation`, plus a data dir path inside the folder.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveTfjsModel, type ModelDefinition } from '@fedkit/server';

export interface ServerDir {
  dir: string;
  /** The config file to pass as `--config`. */
  config: string;
  /** A path for `--data-dir` (not created: the server creates it). */
  dataDir: string;
}

export async function writeServerDir(prefix: string, model: Omit<ModelDefinition, 'topology'>, federation: Record<string, unknown>): Promise<ServerDir> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  await saveTfjsModel(join(dir, 'model'), { ...model, topology: { class_name: 'Sequential', config: { layers: [] } } });
  const config = join(dir, 'fedkit.config.json');
  writeFileSync(config, JSON.stringify({ model: { path: 'model/model.json' }, server: { port: 0 }, federation }));
  return { dir, config, dataDir: join(dir, 'data') };
}
