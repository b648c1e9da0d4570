/**
 * The progress bar of `fedkit simulate`: a bar over the planned rounds, the current round's
 * finished clients, the best test accuracy so far and an ETA from the mean round time. On a
 * terminal it redraws one line; elsewhere (CI, a pipe) it prints one line per round.
 */
import type { RoundMetrics } from '@fedkit/server';
import { reportedPrivacy } from '@fedkit/simulation';

const BAR_WIDTH = 24;

export class SimulateProgress {
  private readonly startedAt = Date.now();
  private readonly tty: boolean;
  private round = 0;
  private done = 0;
  private selected = 0;
  private completed = 0;
  private best: number | null = null;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly rounds: number,
    /** What one step is called: sync rounds, or async mode's published model versions. */
    private readonly unit: 'round' | 'version' = 'round',
  ) {
    this.tty = out.isTTY === true;
  }

  /** Clients finished in the current round. */
  update(round: number, done: number, selected: number): void {
    this.round = round;
    this.done = done;
    this.selected = selected;
    if (this.tty) this.redraw();
  }

  /** A round attempt ended: print its line. */
  roundEnded(metrics: RoundMetrics, bestAccuracy: number | null): void {
    if (metrics.status === 'completed') this.completed = metrics.round;
    this.best = bestAccuracy;
    const acc = metrics.accuracy === undefined ? '' : ` · test accuracy ${(metrics.accuracy * 100).toFixed(2)}%`;
    const loss = metrics.loss === undefined ? '' : ` · loss ${metrics.loss.toFixed(4)}`;
    const failed = metrics.failed.length > 0 ? ` · ${metrics.failed.length} failed` : '';
    const privacy = reportedPrivacy(metrics);
    const epsilon = privacy === null || privacy.epsilon === null ? '' : ` · ε ${privacy.epsilon.toFixed(3)}`;
    const who =
      metrics.async === undefined
        ? `${metrics.replied}/${metrics.selected} clients`
        : `${metrics.async.updatesFolded} updates (staleness mean ${metrics.async.stalenessMean.toFixed(1)}, max ${metrics.async.stalenessMax})`;
    const line =
      metrics.status === 'completed'
        ? `${this.unit} ${metrics.round}/${this.rounds} · ${who}${failed}${acc}${loss}${epsilon} · ${(metrics.durationMs / 1000).toFixed(1)} s · ETA ${this.eta()}`
        : `round ${metrics.round} attempt ${metrics.attempt} failed: ${metrics.reason ?? 'unknown'}`;
    this.print(line);
  }

  print(line: string): void {
    if (this.tty) this.out.write('\r\x1b[2K');
    this.out.write(`${line}\n`);
    if (this.tty) this.redraw();
  }

  finish(): void {
    if (this.tty) this.out.write('\r\x1b[2K');
  }

  /** Remaining time at the mean pace so far (an upper bound when a target may stop it early). */
  private eta(): string {
    if (this.completed === 0) return '—';
    const perRound = (Date.now() - this.startedAt) / this.completed;
    return clock(perRound * (this.rounds - this.completed));
  }

  private redraw(): void {
    const filled = Math.round((BAR_WIDTH * this.completed) / Math.max(1, this.rounds));
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
    const acc = this.best === null ? '—' : `${(this.best * 100).toFixed(2)}%`;
    this.out.write(
      `\r\x1b[2K${bar} ${this.unit} ${this.round}/${this.rounds} · ${this.done}/${this.selected} ${this.unit === 'round' ? 'clients' : 'jobs'} · best accuracy ${acc} · elapsed ${clock(Date.now() - this.startedAt)} · ETA ${this.eta()}`,
    );
  }
}

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(h > 0 ? 2 : 1, '0')}:${String(s % 60).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}
