/**
 * One plot of several finished runs: test accuracy against wall-clock time, read from each
 * run directory's metrics.json (e.g. FedBuff against synchronous FedAvg under churn). Each
 * line is named by its run's mode and directory name.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { FedkitError } from '@fedkit/protocol';
import { wallClockPoints, withWallClock, type TimedRoundMetrics } from './run-output.js';
import { renderWallClockPlot, type WallClockSeries } from './svg-plot.js';

/** Reads one run directory's timed metrics (older runs without `wallClockMs` get it computed). */
export async function readRunSeries(runDir: string): Promise<WallClockSeries & { target?: number }> {
  const dir = resolve(runDir);
  let metrics: { rounds?: unknown };
  let config: { mode?: string; targetAccuracy?: number };
  try {
    metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')) as { rounds?: unknown };
    config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as typeof config;
  } catch (error) {
    throw new FedkitError('config-invalid', `cannot read the run directory ${dir} (metrics.json, config.json): ${(error as Error).message}`);
  }
  if (!Array.isArray(metrics.rounds)) throw new FedkitError('config-invalid', `${join(dir, 'metrics.json')} has no "rounds" array`);
  const rounds = metrics.rounds as TimedRoundMetrics[];
  const timed = rounds.every((r) => typeof r.wallClockMs === 'number') ? rounds : withWallClock(rounds);
  return {
    name: `${config.mode ?? 'sync'}: ${basename(dir)}`,
    points: wallClockPoints(timed),
    ...(config.targetAccuracy === undefined ? {} : { target: config.targetAccuracy }),
  };
}

/**
 * The SVG of accuracy against wall-clock time for `runDirs`, one line each.
 *
 * @example await writeFile('compare.svg', await compareRunsPlot(['runs/a', 'runs/b'], 'FedBuff vs FedAvg'));
 */
export async function compareRunsPlot(runDirs: readonly string[], title: string): Promise<string> {
  if (runDirs.length === 0) throw new FedkitError('config-invalid', 'no run directories to compare');
  const series = await Promise.all(runDirs.map((d) => readRunSeries(d)));
  const target = series.find((s) => s.target !== undefined)?.target;
  return renderWallClockPlot(series, { title, ...(target === undefined ? {} : { target }) });
}
