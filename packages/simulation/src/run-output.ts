/**
 * The run directory of a simulation: the resolved config, per-round metrics as JSON and CSV
 * (each round, or async model version, with `wallClockMs`: when its model was ready, in ms
 * since training started) and two SVG plots, accuracy and loss per round (plot.svg) and
 * accuracy against wall-clock time (plot-wallclock.svg), rewritten after every round so a
 * long run always shows its curve so far; then the final model in tfjs format and a
 * summary. Files are written atomically.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { saveTfjsModel, type ModelDefinition, type RoundMetrics } from '@fedkit/server';
import { reportedPrivacy } from './privacy-report.js';
import { monotoneCurve } from './rounds-to-target.js';
import { renderPlot, renderWallClockPlot } from './svg-plot.js';

export const CSV_COLUMNS = [
  'round', 'attempt', 'status', 'selected', 'replied', 'failed', 'accuracy', 'loss', 'bestAccuracy',
  'trainLoss', 'learningRate', 'durationMs', 'trainPhaseMs', 'aggregateMs', 'evaluateMs', 'epsilon', 'delta', 'clipNorm',
  'wallClockMs', 'stalenessMean', 'stalenessMax',
] as const;

/** A round's metrics with the wall-clock time its model was ready (or the attempt failed). */
export type TimedRoundMetrics = RoundMetrics & { wallClockMs: number };

/**
 * Each round's `wallClockMs`: its end (start + duration, i.e. when the new model existed;
 * in async mode when the version was published) in ms since the first round or version
 * began, i.e. since training started. Evaluation after a sync round delays the next round's
 * start and so is counted in the later rounds' times, as it is in a real deployment.
 */
export function withWallClock(rounds: readonly RoundMetrics[]): TimedRoundMetrics[] {
  const t0 = rounds.length === 0 ? 0 : Date.parse(rounds[0]!.startedAt);
  return rounds.map((r) => ({ ...r, wallClockMs: Date.parse(r.startedAt) + r.durationMs - t0 }));
}

/** The metrics as CSV, one line per round attempt. */
export function metricsCsv(rounds: readonly RoundMetrics[], learningRateOf: (round: number) => number): string {
  const best = new Map(monotoneCurve(accuracyPoints(rounds)).map((p) => [p.round, p.accuracy]));
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of withWallClock(rounds)) {
    const privacy = reportedPrivacy(r);
    const row: Record<(typeof CSV_COLUMNS)[number], string | number> = {
      round: r.round,
      attempt: r.attempt,
      status: r.status,
      selected: r.selected,
      replied: r.replied,
      failed: r.failed.length,
      accuracy: r.accuracy ?? '',
      loss: r.loss ?? '',
      bestAccuracy: r.status === 'completed' ? (best.get(r.round) ?? '') : '',
      trainLoss: r.train.loss ?? '',
      learningRate: learningRateOf(r.round),
      durationMs: r.durationMs,
      trainPhaseMs: r.trainPhaseMs,
      aggregateMs: r.aggregateMs,
      evaluateMs: r.evaluateMs,
      // ε spent after this round at δ (server accountant); empty without DP or under local DP.
      epsilon: privacy?.epsilon ?? '',
      delta: privacy?.delta ?? '',
      clipNorm: privacy?.clipNorm ?? '',
      wallClockMs: r.wallClockMs,
      // Async mode only: staleness of the updates folded into this version.
      stalenessMean: r.async?.stalenessMean ?? '',
      stalenessMax: r.async?.stalenessMax ?? '',
    };
    lines.push(CSV_COLUMNS.map((c) => String(row[c])).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Completed rounds that report an accuracy. */
export function accuracyPoints(rounds: readonly RoundMetrics[]): { round: number; accuracy: number }[] {
  return rounds.filter((r) => r.status === 'completed' && r.accuracy !== undefined).map((r) => ({ round: r.round, accuracy: r.accuracy! }));
}

/** Completed rounds with an accuracy, as (wall-clock, accuracy) points. */
export function wallClockPoints(rounds: readonly TimedRoundMetrics[]): { wallClockMs: number; accuracy: number }[] {
  return rounds.filter((r) => r.status === 'completed' && r.accuracy !== undefined).map((r) => ({ wallClockMs: r.wallClockMs, accuracy: r.accuracy! }));
}

export class RunDirectory {
  constructor(readonly path: string) {}

  async writeConfig(config: unknown): Promise<void> {
    await this.write('config.json', `${JSON.stringify(config, null, 2)}\n`);
  }

  /** Rewrites metrics.json, metrics.csv, plot.svg and plot-wallclock.svg. */
  async writeRounds(rounds: readonly RoundMetrics[], title: string, target: number | undefined, learningRateOf: (round: number) => number, label = 'test accuracy'): Promise<void> {
    const timed = withWallClock(rounds);
    await this.write('metrics.json', `${JSON.stringify({ rounds: timed }, null, 2)}\n`);
    await this.write('metrics.csv', metricsCsv(rounds, learningRateOf));
    const points = rounds.filter((r) => r.status === 'completed').map((r) => ({ round: r.round, ...(r.accuracy === undefined ? {} : { accuracy: r.accuracy }), ...(r.loss === undefined ? {} : { loss: r.loss }) }));
    const options = { title, ...(target === undefined ? {} : { target }) };
    await this.write('plot.svg', renderPlot(points, options));
    await this.write('plot-wallclock.svg', renderWallClockPlot([{ name: label, points: wallClockPoints(timed) }], options));
  }

  async writeModel(model: ModelDefinition, weights: Float32Array): Promise<string> {
    return saveTfjsModel(join(this.path, 'model'), model, weights);
  }

  async writeSummary(summary: unknown): Promise<void> {
    await this.write('summary.json', `${JSON.stringify(summary, null, 2)}\n`);
  }

  private async write(name: string, text: string): Promise<void> {
    await mkdir(this.path, { recursive: true });
    const target = join(this.path, name);
    const tmp = `${target}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, target);
  }
}
