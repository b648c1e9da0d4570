/**
 * The run directory of a simulation: the resolved config, per-round metrics as JSON and CSV
 * and the SVG plot (rewritten after every round, so a long run always shows its curve so
 * far), then the final model in tfjs format and a summary. Files are written atomically.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { saveTfjsModel, type ModelDefinition, type RoundMetrics } from '@fedkit/server';
import { reportedPrivacy } from './privacy-report.js';
import { monotoneCurve } from './rounds-to-target.js';
import { renderPlot } from './svg-plot.js';

export const CSV_COLUMNS = [
  'round', 'attempt', 'status', 'selected', 'replied', 'failed', 'accuracy', 'loss', 'bestAccuracy',
  'trainLoss', 'learningRate', 'durationMs', 'trainPhaseMs', 'aggregateMs', 'evaluateMs', 'epsilon', 'delta', 'clipNorm',
] as const;

/** The metrics as CSV, one line per round attempt. */
export function metricsCsv(rounds: readonly RoundMetrics[], learningRateOf: (round: number) => number): string {
  const best = new Map(monotoneCurve(accuracyPoints(rounds)).map((p) => [p.round, p.accuracy]));
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rounds) {
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
    };
    lines.push(CSV_COLUMNS.map((c) => String(row[c])).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Completed rounds that report an accuracy. */
export function accuracyPoints(rounds: readonly RoundMetrics[]): { round: number; accuracy: number }[] {
  return rounds.filter((r) => r.status === 'completed' && r.accuracy !== undefined).map((r) => ({ round: r.round, accuracy: r.accuracy! }));
}

export class RunDirectory {
  constructor(readonly path: string) {}

  async writeConfig(config: unknown): Promise<void> {
    await this.write('config.json', `${JSON.stringify(config, null, 2)}\n`);
  }

  /** Rewrites metrics.json, metrics.csv and plot.svg. */
  async writeRounds(rounds: readonly RoundMetrics[], title: string, target: number | undefined, learningRateOf: (round: number) => number): Promise<void> {
    await this.write('metrics.json', `${JSON.stringify({ rounds }, null, 2)}\n`);
    await this.write('metrics.csv', metricsCsv(rounds, learningRateOf));
    const points = rounds.filter((r) => r.status === 'completed').map((r) => ({ round: r.round, ...(r.accuracy === undefined ? {} : { accuracy: r.accuracy }), ...(r.loss === undefined ? {} : { loss: r.loss }) }));
    await this.write('plot.svg', renderPlot(points, { title, ...(target === undefined ? {} : { target }) }));
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
