/**
 * The live progress line of `fedkit demo` and `fedkit server`: round, participants, test
 * accuracy and elapsed time. On a terminal one line is redrawn in place; otherwise (CI, a
 * pipe) one line is printed per completed round.
 */
import type { RoundMetrics } from '@fedkit/server';

export interface ProgressState {
  round: number;
  rounds: number;
  stage: string;
  selected: number;
  done: number;
  accuracy: number | null;
  loss: number | null;
}

export class ProgressDisplay {
  private readonly startedAt = Date.now();
  private readonly tty: boolean;
  private state: ProgressState;
  private lastLine = '';

  constructor(
    private readonly out: NodeJS.WriteStream,
    rounds: number,
  ) {
    this.tty = out.isTTY === true;
    this.state = { round: 0, rounds, stage: 'starting', selected: 0, done: 0, accuracy: null, loss: null };
  }

  update(patch: Partial<ProgressState>): void {
    this.state = { ...this.state, ...patch };
    if (this.tty) this.redraw();
  }

  /** Prints a completed (or failed) round as a permanent line. */
  round(metrics: RoundMetrics): void {
    const acc = metrics.accuracy === undefined ? '' : ` · test accuracy ${(metrics.accuracy * 100).toFixed(2)}%`;
    const loss = metrics.loss === undefined ? '' : ` · loss ${metrics.loss.toFixed(4)}`;
    const failed = metrics.failed.length > 0 ? ` · ${metrics.failed.length} failed` : '';
    const line =
      metrics.status === 'completed'
        ? `round ${metrics.round}/${this.state.rounds} · ${metrics.replied}/${metrics.selected} clients${failed}${acc}${loss} · ${(metrics.durationMs / 1000).toFixed(1)} s · elapsed ${this.elapsed()}`
        : `round ${metrics.round} attempt ${metrics.attempt} failed: ${metrics.reason ?? 'unknown'}`;
    this.print(line);
    if (metrics.accuracy !== undefined) this.state.accuracy = metrics.accuracy;
  }

  print(line: string): void {
    if (this.tty) this.out.write('\r\x1b[2K');
    this.out.write(`${line}\n`);
    if (this.tty) this.redraw();
  }

  finish(): void {
    if (this.tty && this.lastLine !== '') this.out.write('\r\x1b[2K');
    this.lastLine = '';
  }

  private elapsed(): string {
    const s = Math.round((Date.now() - this.startedAt) / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  private redraw(): void {
    const { round, rounds, stage, selected, done, accuracy } = this.state;
    const acc = accuracy === null ? '—' : `${(accuracy * 100).toFixed(2)}%`;
    const line = `▸ round ${round}/${rounds} · ${stage} · ${done}/${selected} clients done · test accuracy ${acc} · ${this.elapsed()}`;
    this.lastLine = line;
    this.out.write(`\r\x1b[2K${line}`);
  }
}
