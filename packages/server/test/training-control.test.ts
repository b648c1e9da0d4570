import { describe, expect, it } from 'vitest';
import { TrainingControl, type ControlState } from '../src/training-control.js';

describe('TrainingControl', () => {
  it('reports whether pause, resume and stop changed anything, and notifies listeners', () => {
    const control = new TrainingControl();
    const seen: ControlState[] = [];
    control.onChange((s) => seen.push(s));
    expect(control.resume()).toBe(false);
    expect(control.pause()).toBe(true);
    expect(control.pause()).toBe(false);
    expect(control.resume()).toBe(true);
    expect(control.stop()).toBe(true);
    expect(control.stop()).toBe(false);
    expect(control.stopSignal.aborted).toBe(true);
    expect(seen).toEqual([
      { paused: true, stopRequested: false },
      { paused: false, stopRequested: false },
      { paused: false, stopRequested: true },
    ]);
  });

  it('does not hold when not paused', async () => {
    const control = new TrainingControl();
    let held = 0;
    await control.whilePaused(new AbortController().signal, () => held++);
    expect(held).toBe(0);
  });

  it('holds while paused until resumed, calling onHold once', async () => {
    const control = new TrainingControl();
    control.pause();
    let held = 0;
    let released = false;
    const wait = control.whilePaused(new AbortController().signal, () => held++).then(() => (released = true));
    await Promise.resolve();
    control.pause();
    await Promise.resolve();
    expect(released).toBe(false);
    control.resume();
    await wait;
    expect(held).toBe(1);
  });

  it('releases a paused wait on stop and on abort', async () => {
    const stopped = new TrainingControl();
    stopped.pause();
    const a = stopped.whilePaused(new AbortController().signal, () => undefined);
    stopped.stop();
    await a;
    expect(stopped.paused).toBe(true);

    const aborted = new TrainingControl();
    aborted.pause();
    const controller = new AbortController();
    const b = aborted.whilePaused(controller.signal, () => undefined);
    controller.abort();
    await b;
    expect(aborted.paused).toBe(true);
  });
});
