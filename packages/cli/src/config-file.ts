/**
 * The `fedkit server` / `fedkit demo` config file: which model, where to listen, the
 * federation's options (rounds, sampling, train config, ...) and an optional central test
 * set. JSON, or a JS or TypeScript module whose default export is the same object (a module
 * config may give the model as a factory function). Validated once, naming the file and the field.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { z } from 'zod';
import { FedkitError } from '@fedkit/protocol';
import { configError, resolveServerOptions, type ResolvedServerOptions, type ServerOptionsInput } from '@fedkit/server';

export const BUILTIN_MODELS = ['mnist-2nn', 'mnist-cnn'] as const;
export type BuiltinModel = (typeof BUILTIN_MODELS)[number];

const modelSchema = z
  .object({
    /** One of the paper's models, freshly initialized. */
    builtin: z.enum(BUILTIN_MODELS).optional(),
    /** A tfjs `model.json` (float32 weights), relative to the config file. */
    path: z.string().min(1).optional(),
    /** JS configs only: a function returning a tfjs LayersModel (or a promise of one). */
    factory: z.function().optional(),
  })
  .strict()
  .refine((m) => [m.builtin, m.path, m.factory].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of "builtin" (mnist-2nn, mnist-cnn), "path" (a tfjs model.json) or "factory" (JS configs)',
  });

const fileSchema = z
  .object({
    model: modelSchema,
    server: z
      .object({
        port: z.number().int().min(0).max(65535).default(8080),
        host: z.string().min(1).default('127.0.0.1'),
        /** Bearer token for the admin API and the dashboard's controls (pause, resume, stop). */
        adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
        /** A file holding the admin token, relative to the config file (keeps the secret out of it). */
        adminTokenFile: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    /** The round loop's options; see @fedkit/server's ServerOptions. */
    federation: z.record(z.unknown()).default({}),
    /** Server-side evaluation of each round's model on a central test set. */
    centralEvaluation: z
      .object({
        dataset: z.literal('mnist'),
        /** Evaluate on the first N test examples. @default all 10,000 */
        limit: z.number().int().min(1).max(10_000).optional(),
      })
      .strict()
      .nullable()
      .default(null),
  })
  .strict();

export type ModelConfig = { kind: 'builtin'; name: BuiltinModel } | { kind: 'path'; path: string } | { kind: 'factory'; factory: () => unknown };

export interface FedkitConfig {
  source: string;
  model: ModelConfig;
  server: { port: number; host: string; adminToken?: string; adminTokenFile?: string };
  /** The federation options with defaults filled, for reading. */
  federation: ResolvedServerOptions;
  /** The federation options as written (validated), to pass on to FederationServer. */
  federationInput: ServerOptionsInput;
  centralEvaluation: { dataset: 'mnist'; limit?: number } | null;
}

/** Command-line overrides of the federation options, applied before they are validated. */
export type FederationPatch = (federation: Record<string, unknown>) => Record<string, unknown>;

/** Validates a config object; `source` names it in errors and anchors relative paths. */
export function parseConfig(raw: unknown, source: string, patch?: FederationPatch): FedkitConfig {
  const result = fileSchema.safeParse(raw);
  if (!result.success) throw configError(result.error, source);
  const { model, server, centralEvaluation } = result.data;
  const federation = patch === undefined ? result.data.federation : patch(result.data.federation);
  let resolvedFederation: ResolvedServerOptions;
  try {
    resolvedFederation = resolveServerOptions(federation);
  } catch (error) {
    throw new FedkitError('config-invalid', (error as Error).message.replace('server options: field "', `${source}: field "federation.`));
  }
  const baseDir = dirname(resolve(source));
  if (server.adminToken !== undefined && server.adminTokenFile !== undefined) {
    throw new FedkitError('config-invalid', `${source}: give "server.adminToken" or "server.adminTokenFile", not both`);
  }
  const modelConfig: ModelConfig =
    model.builtin !== undefined
      ? { kind: 'builtin', name: model.builtin }
      : model.path !== undefined
        ? { kind: 'path', path: resolve(baseDir, model.path) }
        : { kind: 'factory', factory: model.factory as () => unknown };
  return {
    source,
    model: modelConfig,
    server: server.adminTokenFile === undefined ? server : { ...server, adminTokenFile: resolve(baseDir, server.adminTokenFile) },
    federation: resolvedFederation,
    federationInput: federation as ServerOptionsInput,
    centralEvaluation: centralEvaluation === null ? null : { dataset: 'mnist', ...(centralEvaluation.limit === undefined ? {} : { limit: centralEvaluation.limit }) },
  };
}

/** Reads and validates a `.json`, `.js`, `.mjs` or `.ts` config file. */
export async function loadConfigFile(path: string, patch?: FederationPatch): Promise<FedkitConfig> {
  const full = resolve(path);
  const ext = extname(full);
  let raw: unknown;
  if (ext === '.json') {
    let text: string;
    try {
      text = await readFile(full, 'utf8');
    } catch (error) {
      throw new FedkitError('config-invalid', `cannot read config file ${full}: ${(error as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new FedkitError('config-invalid', `${full} is not valid JSON: ${(error as Error).message}`);
    }
  } else if (ext === '.js' || ext === '.mjs' || ext === '.ts' || ext === '.mts') {
    try {
      // TypeScript configs are compiled on the fly by tsx, scoped to this one import.
      const module = (ext === '.ts' || ext === '.mts' ? await tsImport(pathToFileURL(full).href, import.meta.url) : await import(pathToFileURL(full).href)) as {
        default?: unknown;
      };
      raw = module.default;
    } catch (error) {
      throw new FedkitError('config-invalid', `cannot load config module ${full}: ${(error as Error).message}`);
    }
  } else {
    throw new FedkitError('config-invalid', `config file must end in .json, .js, .mjs or .ts, got ${full}`);
  }
  return parseConfig(raw, full, patch);
}
