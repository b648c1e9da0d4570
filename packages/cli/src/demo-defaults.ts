/**
 * The demo's embedded default: the paper's 2NN on IID MNIST with 10 clients, FedAvg with
 * E = 1, B = 10, η = 0.1, evaluated on the 10,000 test images after every round.
 * examples/mnist-2nn/fedkit.config.json holds the same object (a test keeps them equal), so
 * `fedkit server --config examples/mnist-2nn/fedkit.config.json` runs the same federation
 * with clients started by hand.
 */
export const DEMO_CONFIG = {
  model: { builtin: 'mnist-2nn' },
  server: { port: 8080, host: '127.0.0.1' },
  federation: {
    rounds: 5,
    minClients: 10,
    sampling: { fraction: 1, minFit: 8 },
    roundDeadlineMs: 300_000,
    train: { epochs: 1, batchSize: 10, learningRate: 0.1 },
    evaluate: { every: 1, fraction: 1, batchSize: 500 },
  },
  centralEvaluation: { dataset: 'mnist' },
} as const;
