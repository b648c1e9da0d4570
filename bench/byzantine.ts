/**
 * Byzantine robustness on MNIST (issue 6 part 3): `fedkit simulate`'s programmatic API runs
 * one base config (examples/simulations/byzantine/base.json: 2NN, IID, K = 50, C = 0.3, so 15
 * clients a round; 10% = 5 fixed attackers) under every strategy and attack of the grid below,
 * plus FedAvg without attack as the baseline. One simulation at a time; each writes its own
 * run directory (`<out>/<attack>-<strategy>`: metrics.csv, plot.svg, summary.json).
 *
 * f, the attackers a robust rule tolerates per round: a round samples 15 of 50 clients, 5 of
 * them malicious, so the attackers in a round are hypergeometric (mean 1.5): P(≥ 3) = 15.2%,
 * P(≥ 4) = 2.4%, P(5) = 0.14%. f = 3 covers 97.6% of rounds, and 15 ≥ 4f + 3 is just what
 * Bulyan needs (Krum and Multi-Krum need n ≥ 2f + 3 = 9). Trimmed mean drops β = 0.2 of the
 * values at each end (3 of 15, the same f). Norm bounding clips to M = 2, about the L2 norm of
 * an honest update in round 1 (1.95–2.06 measured over 4 clients at this E, B, η).
 *
 *     pnpm bench:byzantine
 *     npx tsx bench/byzantine.ts --rounds 5 --only fedavg,krum --attacks sign-flip
 *
 * Prints a table of final and best accuracy per strategy × attack; the last line is one JSON
 * object for tooling. CPU time is this process's (all worker threads included).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveSimulationConfig, runSimulation } from '../packages/simulation/dist/index.js';

const STRATEGIES: Record<string, Record<string, unknown>> = {
  fedavg: { name: 'fedavg' },
  fedmedian: { name: 'fedmedian' },
  fedtrimmedavg: { name: 'fedtrimmedavg', beta: 0.2 },
  krum: { name: 'krum', numMaliciousClients: 3 },
  multikrum: { name: 'multikrum', numMaliciousClients: 3, numClientsToKeep: 12 },
  bulyan: { name: 'bulyan', numMaliciousClients: 3 },
  normbound: { name: 'normbound', maxNorm: 2, inner: { name: 'fedavg' } },
};
const ATTACKS: Record<string, { kind: string; scale: number }> = {
  'sign-flip': { kind: 'sign-flip', scale: 10 },
  scale: { kind: 'scale', scale: 100 },
};

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'examples/simulations/byzantine/base.json' },
    out: { type: 'string', default: 'runs/byzantine' },
    rounds: { type: 'string' },
    only: { type: 'string' },
    attacks: { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
  },
});
function pick(all: string[], list: string | undefined): string[] {
  if (list === undefined) return all;
  const names = list.split(',');
  const unknown = names.filter((name) => !all.includes(name));
  if (unknown.length > 0) throw new RangeError(`unknown name(s) ${unknown.join(', ')}; choose from ${all.join(', ')}`);
  return names;
}
const strategies = pick(Object.keys(STRATEGIES), values.only);
const attacks = pick(Object.keys(ATTACKS), values.attacks);
const base = JSON.parse(await readFile(values.config, 'utf8')) as Record<string, unknown>;

interface Cell {
  attack: string;
  strategy: string;
  finalAccuracy: number | null;
  bestAccuracy: number | null;
  rounds: number;
  wallS: number;
  cpuS: number;
  error?: string;
}

async function runCell(attack: string, strategy: string): Promise<Cell> {
  const input = {
    ...base,
    ...(values.rounds === undefined ? {} : { rounds: Number(values.rounds) }),
    strategy: STRATEGIES[strategy],
    attack: attack === 'none' ? undefined : { fraction: (base.attack as { fraction?: number } | undefined)?.fraction ?? 0.1, ...ATTACKS[attack] },
  };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const cell: Cell = { attack, strategy, finalAccuracy: null, bestAccuracy: null, rounds: 0, wallS: 0, cpuS: 0 };
  try {
    const config = await resolveSimulationConfig(input, dirname(values.config));
    const result = await runSimulation(config, { runDir: join(values.out, `${attack}-${strategy}`) });
    const accuracies = result.history.map((round) => round.accuracy).filter((a): a is number => typeof a === 'number' && Number.isFinite(a));
    cell.finalAccuracy = result.finalAccuracy;
    cell.bestAccuracy = accuracies.length > 0 ? Math.max(...accuracies) : null;
    cell.rounds = result.rounds;
  } catch (error) {
    cell.error = error instanceof Error ? error.message : String(error);
  }
  const cpu = process.cpuUsage(cpuBefore);
  cell.wallS = Math.round((performance.now() - started) / 100) / 10;
  cell.cpuS = Math.round((cpu.user + cpu.system) / 1e5) / 10;
  return cell;
}

const percent = (a: number | null): string => (a === null ? '—' : `${(100 * a).toFixed(2)}%`);
const cells: Cell[] = [];
const grid: Array<[string, string]> = [
  ...(values['no-baseline'] ? [] : [['none', 'fedavg'] as [string, string]]),
  ...attacks.flatMap((attack) => strategies.map((strategy): [string, string] => [attack, strategy])),
];
for (const [attack, strategy] of grid) {
  const cell = await runCell(attack, strategy);
  cells.push(cell);
  process.stdout.write(
    `${attack.padEnd(9)} ${strategy.padEnd(13)} final ${percent(cell.finalAccuracy).padStart(7)}  best ${percent(cell.bestAccuracy).padStart(7)}  ` +
      `${cell.rounds} rounds  wall ${cell.wallS} s  cpu ${cell.cpuS} s${cell.error === undefined ? '' : `  ERROR ${cell.error}`}\n`,
  );
}

process.stdout.write('\n| strategy | attack | final accuracy | best accuracy | wall s | CPU s |\n|---|---|---|---|---|---|\n');
for (const c of cells) {
  process.stdout.write(`| ${c.strategy} | ${c.attack} | ${percent(c.finalAccuracy)} | ${percent(c.bestAccuracy)} | ${c.wallS} | ${c.cpuS} |\n`);
}
const byAttack = (key: 'finalAccuracy' | 'bestAccuracy'): Record<string, Record<string, number | null>> => {
  const out: Record<string, Record<string, number | null>> = {};
  for (const c of cells) (out[c.attack] ??= {})[c.strategy] = c[key];
  return out;
};
const total = (key: 'wallS' | 'cpuS'): number => Math.round(cells.reduce((sum, c) => sum + c[key], 0));
process.stdout.write(
  `${JSON.stringify({
    bench: 'byzantine',
    attackFraction: (base.attack as { fraction?: number } | undefined)?.fraction ?? 0.1,
    finalAccuracy: byAttack('finalAccuracy'),
    bestAccuracy: byAttack('bestAccuracy'),
    wallS: total('wallS'),
    cpuS: total('cpuS'),
    errors: cells.filter((c) => c.error !== undefined).map((c) => `${c.attack}-${c.strategy}: ${c.error}`),
  })}\n`,
);
