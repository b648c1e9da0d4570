/**
 * `fedkit simulate`: a simulated federation from a config file (K virtual clients over a
 * worker-thread pool, the real server and clients over loopback), with a progress bar, a
 * run directory of results and, with --json, a one-line summary as the last line.
 */
import { loadSimulationConfig, runSimulation, type ResolvedSimulationConfig } from '@fedkit/simulation';
import { helpText, intFlag, numberFlag, parseFlags, requiredFlag, type CommandSpec } from '../args.js';
import { printJsonSummary, timestampedName } from '../output.js';
import { SimulateProgress } from '../simulate-progress.js';

export const simulateCommand: CommandSpec = {
  name: 'simulate',
  summary: 'Simulate a federation of many virtual clients on this machine (e.g. the FedAvg paper runs).',
  usage: 'fedkit simulate --config FILE [--out DIR] [--rounds N] [--learning-rate LR] [--seed N] [--json]',
  flags: {
    config: { value: 'FILE', description: 'simulation config (JSON), e.g. examples/simulations/mcmahan-2nn-iid.json' },
    out: { value: 'DIR', description: 'run directory for config, metrics, plot and model', default: 'runs/simulate-<time>' },
    rounds: { value: 'N', description: 'most rounds to run (overrides the config)' },
    'learning-rate': { value: 'LR', description: 'client learning rate (overrides the config)' },
    seed: { value: 'N', description: 'seed (overrides the config)' },
  },
};

export async function runSimulateCommand(argv: string[]): Promise<number> {
  const values = parseFlags(simulateCommand, argv);
  if (values.help) {
    process.stdout.write(helpText(simulateCommand));
    return 0;
  }
  const loaded = await loadSimulationConfig(requiredFlag(values, 'config'));
  const rounds = intFlag(values, 'rounds', { min: 1, fallback: loaded.rounds })!;
  const seed = intFlag(values, 'seed', { min: 0, max: 2 ** 31 - 1, fallback: loaded.seed })!;
  const learningRate = numberFlag(values, 'learning-rate', (n) => n > 0 && Number.isFinite(n), 'a number > 0') ?? loaded.train.learningRate;
  const config: ResolvedSimulationConfig = { ...loaded, rounds, seed, train: { ...loaded.train, learningRate } };
  const runDir = typeof values.out === 'string' ? values.out : `runs/${timestampedName('simulate')}`;
  const json = values.json === true;

  const progress = new SimulateProgress(process.stdout, rounds);
  const model = config.model.kind === 'path' ? config.model.path : config.model.name;
  progress.print(
    `fedkit simulate: ${config.clients} clients · C=${config.fraction} · ${config.dataset.name} ${config.partition.kind} · model ${model} · E=${config.train.epochs} B=${config.train.batchSize ?? '∞'} η=${learningRate} · up to ${rounds} rounds${config.targetAccuracy === undefined ? '' : ` · target ${config.targetAccuracy}`}`,
  );
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let result;
  try {
    result = await runSimulation(config, {
      runDir,
      signal: controller.signal,
      logLevel: process.env.FEDKIT_LOG_LEVEL ?? 'silent',
      onProgress: (p) => progress.update(p.round, p.done, p.selected),
      onRound: (metrics, info) => progress.roundEnded(metrics, info.bestAccuracy),
      onLog: (level, message) => progress.print(`${level}: ${message}`),
    });
  } finally {
    progress.finish();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  const acc = result.finalAccuracy === null ? 'n/a' : `${(result.finalAccuracy * 100).toFixed(2)}%`;
  const reached =
    result.target === null ? '' : result.roundsToTarget === null ? ` · target ${result.target} not reached` : ` · ${result.roundsToTarget.toFixed(1)} rounds to ${result.target}`;
  progress.print(`${result.reason}: test accuracy ${acc} after ${result.rounds} rounds${reached} in ${(result.elapsedMs / 1000).toFixed(1)} s · peak RSS ${(result.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  if (result.privacy !== null) {
    const spent = result.privacy.epsilon === null ? 'ε not accounted (local DP: each report is noised on its device)' : `ε = ${result.privacy.epsilon.toFixed(3)} at δ = ${result.privacy.delta}`;
    progress.print(`privacy (${result.privacy.mode} DP): ${spent} after ${result.privacy.roundsCharged} charged rounds`);
  }
  progress.print(`results: ${result.runDir} (config.json, metrics.json, metrics.csv, plot.svg, model/)`);
  printJsonSummary(json, {
    rounds: result.rounds,
    finalAccuracy: result.finalAccuracy,
    target: result.target,
    roundsToTarget: result.roundsToTarget,
    runDir: result.runDir,
    // ε spent at δ by the server's accountant; null without DP (and under local DP).
    epsilon: result.privacy?.epsilon ?? null,
    delta: result.privacy?.delta ?? null,
  });
  return controller.signal.aborted ? 1 : 0;
}
