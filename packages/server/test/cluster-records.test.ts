// Values read back from Redis are validated like inbound messages: each bad shape throws
// state-corrupt naming what was read and where it is wrong.
import { describe, expect, it } from 'vitest';
import { FedkitError } from '@fedkit/protocol';
import { decodePartial, encodePartial } from '../src/cluster/partial-codec.js';
import {
  clusterTaskSchema,
  controlStateSchema,
  memberRecordSchema,
  parseRecord,
  roundRecordSchema,
  stateMetaSchema,
  taskEventSchema,
} from '../src/cluster/redis-records.js';

function refusal(fn: () => unknown): FedkitError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FedkitError) return error;
    throw error;
  }
  throw new Error('expected a FedkitError');
}

const task = {
  id: 'r1a1',
  round: 1,
  attempt: 1,
  modelVersion: 0,
  config: { epochs: 1, batchSize: 10, learningRate: 0.1 },
  deadlineAt: 1_700_000_000_000,
  assignments: { c1: 'p1', c2: 'p2' },
};

describe('parseRecord', () => {
  it('returns the valid records of each kind', () => {
    expect(parseRecord(clusterTaskSchema, JSON.stringify(task), 'round task')).toEqual(task);
    expect(parseRecord(clusterTaskSchema, JSON.stringify({ ...task, id: 'e1v1', kind: 'evaluate', config: { batchSize: 32 } }), 'round task').kind).toBe('evaluate');
    const member = { processId: 'p1', at: 5, modelVersion: 2, clients: [{ clientId: 'c1', numExamples: 10, numEvalExamples: 0 }] };
    expect(parseRecord(memberRecordSchema, JSON.stringify(member), 'member')).toEqual(member);
    const meta = { modelVersion: 3, round: 3, strategyState: null, privacyState: { kind: 'privacy-ledger' }, finished: { reason: 'completed', message: 'done' }, writer: 'p1' };
    expect(parseRecord(stateMetaSchema, JSON.stringify(meta), 'state')).toEqual(meta);
    const event = { processId: 'p1', answered: ['c1'], failed: [{ clientId: 'c2', code: 'deadline-exceeded', message: 'late' }] };
    expect(parseRecord(taskEventSchema, JSON.stringify(event), 'report')).toEqual(event);
    expect(parseRecord(controlStateSchema, '{"paused":true,"stopRequested":false}', 'control')).toEqual({ paused: true, stopRequested: false });
    const record = { round: 1, attempt: 1, status: 'completed', modelVersion: 1, startedAt: '2026-01-01T00:00:00Z', replied: 3 };
    expect(parseRecord(roundRecordSchema, JSON.stringify(record), 'round record')).toEqual(record);
  });

  it.each([
    ['not JSON', '{"id":', 'round task: not JSON'],
    ['a task without assignments', JSON.stringify({ ...task, assignments: undefined }), 'round task at "assignments"'],
    ['a task with a negative round', JSON.stringify({ ...task, round: -1 }), 'round task at "round"'],
    ['a task whose config fits neither kind', JSON.stringify({ ...task, config: { epochs: 0 } }), 'round task at "config"'],
    ['a task naming a client with an empty id', JSON.stringify({ ...task, assignments: { '': 'p1' } }), 'round task at "assignments'],
  ])('refuses %s', (_label, raw, where) => {
    const error = refusal(() => parseRecord(clusterTaskSchema, raw, 'round task'));
    expect(error.code).toBe('state-corrupt');
    expect(error.message).toContain(`Redis holds an invalid ${where}`);
  });

  it('refuses a report with an unknown error code, a member with a fractional count, a control record of strings', () => {
    expect(refusal(() => parseRecord(taskEventSchema, JSON.stringify({ processId: 'p', answered: [], failed: [{ clientId: 'c', code: 'nope', message: '' }] }), 'report')).message).toContain('at "failed.0.code"');
    expect(refusal(() => parseRecord(memberRecordSchema, JSON.stringify({ processId: 'p', at: 1, modelVersion: 1.5, clients: [] }), 'member')).message).toContain('at "modelVersion"');
    expect(refusal(() => parseRecord(controlStateSchema, '{"paused":"yes","stopRequested":false}', 'control')).message).toContain('at "paused"');
    expect(refusal(() => parseRecord(stateMetaSchema, JSON.stringify({ modelVersion: 1, round: 1, finished: { reason: 'bored', message: '' }, writer: 'p' }), 'state')).message).toContain('at "finished.reason"');
  });
});

describe('decodePartial', () => {
  const partial = { kind: 'weighted-mean', count: 2, totalWeight: 30, counters: {}, metrics: { loss: { weighted: 3, weight: 30 } }, clients: ['c1', 'c2'], sum: new Float64Array([1.5, -2, 3.25]) };

  it('round-trips what encodePartial wrote', () => {
    const back = decodePartial(encodePartial(partial));
    expect({ ...back, sum: [...back.sum] }).toEqual({ ...partial, sum: [1.5, -2, 3.25] });
  });

  it('refuses a sum holding NaN or Infinity (it would silently ruin the global model)', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = refusal(() => decodePartial(encodePartial({ ...partial, sum: new Float64Array([1, bad, 3]) })));
      expect(error.code).toBe('state-corrupt');
      expect(error.message).toContain(`coordinate 1 is ${bad}`);
    }
  });

  it('refuses truncated bytes, a header that is not a partial, and a sum that is not whole float64s', () => {
    const bytes = encodePartial(partial);
    expect(refusal(() => decodePartial(bytes.subarray(0, 3))).code).toBe('state-corrupt');
    expect(refusal(() => decodePartial(bytes.subarray(0, bytes.length - 3))).message).toContain('malformed header or sum');
    const header = Buffer.from(JSON.stringify({ kind: 'weighted-mean', count: -1 }), 'utf8');
    const bad = Buffer.alloc(Math.ceil((4 + header.length) / 8) * 8 + 8);
    bad.writeUInt32LE(header.length, 0);
    header.copy(bad, 4);
    const error = refusal(() => decodePartial(bad));
    expect(error.code).toBe('state-corrupt');
    expect(error.message).toContain('partial sum header at "count"');
  });
});
