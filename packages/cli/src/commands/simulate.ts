/**
 * `fedkit simulate`: a simulated federation from a config file (K virtual clients over a
 * worker-thread pool, the real server and clients over loopback), with a progress bar, a
 * run directory of results and, with --json, a one-line summary as the last line.
 */
import { writeFile } from 'node:fs/promises';
import { compareRunsPlot, loadSimulationConfig, runSimulation, type ResolvedSimulationConfig } from '@fedkit/simulation';
import { helpText, intFlag, numberFlag, parseFlags, requiredFlag, type CommandSpec } from '../args.js';
import { printJsonSummary, timestampedName } from '../output.js';
import { SimulateProgress } from '../simulate-progress.js';

export const simulateCommand: CommandSpec = {
  name: 'simulate',
  summary: 'Simulate a federation of many virtual clients on this machine (e.g. the FedAvg paper runs).',
  usage: 'fedkit simulate --config FILE [--out DIR] [--rounds N] [--learning-rate LR] [--seed N] [--json]\n       fedkit simulate --compare DIR,DIR[,...] --out FILE.svg [--title TEXT]',
  flags: {
    config: { value: 'FILE', description: 'simulation config (JSON), e.g. examples/simulations/mcmahan-2nn-iid.json' },
    out: { value: 'DIR', description: 'run directory for config, metrics, plots and model (with --compare: the SVG file)', default: 'runs/simulate-<time>' },
    compare: { value: 'DIRS', description: 'instead of simulating: plot test accuracy against wall-clock time of these run directories (comma-separated) into --out' },
    title: { value: 'TEXT', description: 'title of the --compare plot', default: 'test accuracy against wall-clock time' },
    rounds: { value: 'N', description: 'most rounds (async: model versions) to run (overrides the config)' },
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
  if (typeof values.compare === 'string') return compareRuns(values.compare, requiredFlag(values, 'out'), typeof values.title === 'string' ? values.title : undefined);
  const loaded = await loadSimulationConfig(requiredFlag(values, 'config'));
  const rounds = intFlag(values, 'rounds', { min: 1, fallback: loaded.rounds })!;
  const seed = intFlag(values, 'seed', { min: 0, max: 2 ** 31 - 1, fallback: loaded.seed })!;
  const learningRate = numberFlag(values, 'learning-rate', (n) => n > 0 && Number.isFinite(n), 'a number > 0') ?? loaded.train.learningRate;
  const config: ResolvedSimulationConfig = { ...loaded, rounds, seed, train: { ...loaded.train, learningRate } };
  const runDir = typeof values.out === 'string' ? values.out : `runs/${timestampedName('simulate')}`;
  const json = values.json === true;

  const unit = config.mode === 'async' ? 'version' : 'round';
  const progress = new SimulateProgress(process.stdout, rounds, unit);
  const model = config.model.kind === 'path' ? config.model.path : config.model.name;
  const mode = config.mode === 'async' ? `async (FedBuff K=${String(config.async?.bufferSize)})` : `C=${config.fraction}`;
  const churn = config.churn === null ? '' : ` · churn ${config.churn.offlineFraction * 100}% offline`;
  progress.print(
    `fedkit simulate: ${config.clients} clients · ${mode}${churn} · ${config.dataset.name} ${config.partition.kind} · model ${model} · E=${config.train.epochs} B=${config.train.batchSize ?? '∞'} η=${learningRate} · up to ${rounds} ${unit}s${config.targetAccuracy === undefined ? '' : ` · target ${config.targetAccuracy}`}`,
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
    result.target === null ? '' : result.roundsToTarget === null ? ` · target ${result.target} not reached` : ` · ${result.roundsToTarget.toFixed(1)} ${unit}s to ${result.target}`;
  progress.print(`${result.reason}: test accuracy ${acc} after ${result.rounds} ${unit}s${reached} in ${(result.elapsedMs / 1000).toFixed(1)} s · peak RSS ${(result.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  if (result.privacy !== null) {
    const spent = result.privacy.epsilon === null ? 'ε not accounted (local DP: each report is noised on its device)' : `ε = ${result.privacy.epsilon.toFixed(3)} at δ = ${result.privacy.delta}`;
    progress.print(`privacy (${result.privacy.mode} DP): ${spent} after ${result.privacy.roundsCharged} charged rounds`);
  }
  progress.print(`results: ${result.runDir} (config.json, metrics.json, metrics.csv, plot.svg, plot-wallclock.svg, model/)`);
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

/** `--compare`: one SVG of accuracy against wall-clock time for finished run directories. */
async function compareRuns(list: string, out: string, title = 'test accuracy against wall-clock time'): Promise<number> {
  const dirs = list.split(',').map((d) => d.trim()).filter((d) => d.length > 0);
  await writeFile(out, await compareRunsPlot(dirs, title));
  process.stdout.write(`wrote ${out} (${dirs.length} runs)\n`);
  return 0;
}
