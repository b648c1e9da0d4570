/**
 * The async engine's bookkeeping without sockets: the task table's coded refusals and
 * deadlines, and a version's federated evaluation taking clients as they become idle.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ClientInfo } from '../src/client-registry.js';
import { TaskTable } from '../src/async/task-table.js';
import { VersionEvaluation } from '../src/async/version-evaluation.js';

afterEach(() => {
  vi.useRealTimers();
});

const client = (clientId: string, numEvalExamples = 5): ClientInfo => ({
  clientId,
  socketId: `s-${clientId}`,
  numExamples: 10,
  numEvalExamples,
  platform: 'node',
  backend: 'test',
  joinedAt: 0,
  busyWith: null,
});

describe('TaskTable', () => {
  it('numbers tasks, hands each to its client only, and names why a reply cannot be placed', () => {
    const table = new TaskTable(1000, () => undefined);
    const a = table.begin('a', 0);
    const b = table.begin('b', 2);
    expect([a.number, b.number, table.inFlight, table.lastNumber]).toEqual([1, 2, 2, 2]);
    expect(table.claim('a', 1)).toBe(a);
    expect(() => table.claim('b', 1)).toThrow(expect.objectContaining({ code: 'not-selected' }));
    expect(() => table.claim('a', 3)).toThrow(expect.objectContaining({ code: 'round-not-open', message: 'train task 3 was never sent (the last task sent is 2)' }));
    expect(table.settle(a, 'answered')).toBe(true);
    expect(table.settle(a, 'failed')).toBe(false);
    expect(() => table.claim('a', 1)).toThrow(expect.objectContaining({ code: 'duplicate-update' }));
    expect(() => table.claim('b', 1)).toThrow(expect.objectContaining({ code: 'not-selected' }));
    table.settle(b, 'failed');
    expect(() => table.claim('b', 2)).toThrow(expect.objectContaining({ code: 'round-closed' }));
    expect(table.inFlight).toBe(0);
  });

  it('expires a task at its deadline once, and cancels the rest', () => {
    vi.useFakeTimers();
    const expired: number[] = [];
    const table = new TaskTable(100, (task) => expired.push(task.number));
    const a = table.begin('a', 0);
    table.begin('b', 0);
    table.settle(a, 'answered');
    vi.advanceTimersByTime(100);
    expect(expired).toEqual([2]);
    expect(() => table.claim('b', 2)).toThrow(expect.objectContaining({ code: 'round-closed' }));
    const c = table.begin('c', 1);
    expect(table.ofClient('c')).toEqual([c]);
    expect(table.cancelAll()).toEqual([c]);
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual([2]);
  });
});

describe('VersionEvaluation', () => {
  it('asks eligible idle clients until it has enough, and settles when they have all answered', async () => {
    const evaluation = new VersionEvaluation(4, new Float32Array(2), 2, 10_000);
    expect(evaluation.wants(client('no-data', 0))).toBe(false);
    expect(evaluation.wants(client('a'))).toBe(true);
    evaluation.asking('a');
    expect(evaluation.wants(client('a'))).toBe(false);
    evaluation.asking('b');
    expect(evaluation.wants(client('c'))).toBe(false);
    expect(() => evaluation.answer('c', { round: 4, numExamples: 1, loss: 1, accuracy: 1 })).toThrow(expect.objectContaining({ code: 'not-selected' }));
    expect(() => evaluation.answer('a', { round: 3, numExamples: 1, loss: 1, accuracy: 1 })).toThrow(expect.objectContaining({ code: 'round-closed' }));
    evaluation.answer('a', { round: 4, numExamples: 5, loss: 0.5, accuracy: 0.8 });
    expect(() => evaluation.answer('a', { round: 4, numExamples: 5, loss: 0.5, accuracy: 0.8 })).toThrow(expect.objectContaining({ code: 'duplicate-update' }));
    evaluation.fail('b', 'client-disconnected', 'gone');
    await evaluation.done;
    expect(evaluation.replies).toEqual([{ clientId: 'a', numExamples: 5, loss: 0.5, accuracy: 0.8 }]);
    expect(evaluation.failures).toEqual([{ clientId: 'b', code: 'client-disconnected', message: 'gone' }]);
  });

  it('fails the silent clients at the deadline', async () => {
    vi.useFakeTimers();
    const evaluation = new VersionEvaluation(1, new Float32Array(2), 3, 50);
    evaluation.asking('a');
    vi.advanceTimersByTime(50);
    await evaluation.done;
    expect(evaluation.failures).toEqual([{ clientId: 'a', code: 'deadline-exceeded', message: 'no evaluation reply within the 50 ms deadline' }]);
    expect(evaluation.wants(client('b'))).toBe(false);
  });
});
