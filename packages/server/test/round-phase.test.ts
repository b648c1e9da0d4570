import { describe, expect, it, vi } from 'vitest';
import type { FedkitError } from '@fedkit/protocol';
import { RoundPhase } from '../src/round-phase.js';

function code(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    return (error as FedkitError).code;
  }
  return 'none';
}

describe('RoundPhase', () => {
  it('settles when every selected client has answered or failed', async () => {
    const phase = new RoundPhase('train', 3, new Set(['a', 'b']), 60_000);
    phase.markAnswered('a');
    expect(phase.isOpen).toBe(true);
    phase.markFailed('b', 'client-disconnected', 'gone');
    await phase.done;
    expect(phase.isOpen).toBe(false);
    expect(phase.repliedCount).toBe(1);
    expect(phase.failures).toEqual([{ clientId: 'b', code: 'client-disconnected', message: 'gone' }]);
  });

  it('fails the silent clients at the deadline', async () => {
    vi.useFakeTimers();
    try {
      const phase = new RoundPhase('train', 1, new Set(['a', 'b']), 1000);
      phase.markAnswered('a');
      vi.advanceTimersByTime(1000);
      await phase.done;
      expect(phase.failures).toEqual([{ clientId: 'b', code: 'deadline-exceeded', message: 'no reply within the 1000 ms deadline' }]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('names why a reply cannot be accepted', () => {
    const phase = new RoundPhase('train', 5, new Set(['a', 'b']), 60_000);
    expect(code(() => phase.checkCanReply('a', 4))).toBe('round-closed');
    expect(code(() => phase.checkCanReply('a', 6))).toBe('round-not-open');
    expect(code(() => phase.checkCanReply('z', 5))).toBe('not-selected');
    phase.markAnswered('a');
    expect(code(() => phase.checkCanReply('a', 5))).toBe('duplicate-update');
    phase.markFailed('b', 'update-not-finite', 'NaN');
    expect(code(() => phase.checkCanReply('b', 5))).toBe('round-closed');
    expect(code(() => phase.checkCanReply('a', 5))).toBe('round-closed');
  });

  it('ignores answers and failures of clients that are no longer pending', async () => {
    const phase = new RoundPhase('evaluate', 1, new Set(['a', 'b']), 60_000);
    phase.markFailed('a', 'client-error', 'x');
    phase.markAnswered('a');
    phase.markFailed('a', 'client-error', 'again');
    expect(phase.failures).toHaveLength(1);
    phase.close('server-shutting-down', 'bye');
    await phase.done;
    expect(phase.failures.map((f) => f.code)).toEqual(['client-error', 'server-shutting-down']);
  });

  it('with nobody selected, is settled at once', async () => {
    const phase = new RoundPhase('train', 1, new Set(), 60_000);
    await phase.done;
    expect(phase.isOpen).toBe(false);
  });
});
