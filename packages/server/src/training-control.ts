/**
 * Operator control over the round loop: pause (no new round starts; the one in progress
 * finishes), resume, and a graceful stop (the round in progress finishes, then training ends
 * with reason 'stopped'). Kept apart from the loop so the loop only asks two questions at a
 * round boundary: "should I stop?" and "wait while paused".
 */
import { nextWakeup, wakeAll } from './wakeup.js';

export interface ControlState {
  paused: boolean;
  stopRequested: boolean;
}

export class TrainingControl {
  private pausedFlag = false;
  private readonly stopController = new AbortController();
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(state: ControlState) => void>();

  get paused(): boolean {
    return this.pausedFlag;
  }

  get stopRequested(): boolean {
    return this.stopController.signal.aborted;
  }

  /** Aborts when a graceful stop is requested: interrupts waits, never a running round. */
  get stopSignal(): AbortSignal {
    return this.stopController.signal;
  }

  state(): ControlState {
    return { paused: this.pausedFlag, stopRequested: this.stopRequested };
  }

  /** Holds the loop at the next round boundary. Returns false when already paused. */
  pause(): boolean {
    if (this.pausedFlag) return false;
    this.pausedFlag = true;
    this.changed();
    return true;
  }

  /** Lets the loop start rounds again. Returns false when not paused. */
  resume(): boolean {
    if (!this.pausedFlag) return false;
    this.pausedFlag = false;
    this.changed();
    return true;
  }

  /** Ends training after the round in progress. Returns false when already requested. */
  stop(): boolean {
    if (this.stopRequested) return false;
    this.stopController.abort();
    this.changed();
    return true;
  }

  /** Calls `listener` with the new state after every change; returns an unsubscribe. */
  onChange(listener: (state: ControlState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves once not paused, or a stop is requested, or `signal` aborts. `onHold` runs once
   * if the wait actually holds (the loop shows the 'paused' stage then).
   */
  async whilePaused(signal: AbortSignal, onHold: () => void): Promise<void> {
    if (!this.pausedFlag || this.stopRequested || signal.aborted) return;
    onHold();
    while (this.pausedFlag && !this.stopRequested && !signal.aborted) {
      await nextWakeup(this.waiters, signal);
    }
  }

  private changed(): void {
    wakeAll(this.waiters);
    const state = this.state();
    for (const listener of this.listeners) listener(state);
  }
}
