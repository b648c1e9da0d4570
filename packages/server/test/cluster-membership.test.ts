import { describe, expect, it } from 'vitest';
import { clientUnion, type MemberRecord } from '../src/cluster/membership.js';

function record(processId: string, at: number, clientIds: string[]): MemberRecord {
  return { processId, at, modelVersion: 1, clients: clientIds.map((clientId) => ({ clientId, numExamples: 10, numEvalExamples: 2 })) };
}

describe('clientUnion', () => {
  it('lists every client of every live process once, sorted by client id, with its process', () => {
    const members = new Map([
      ['p1', record('p1', 100, ['c', 'a'])],
      ['p2', record('p2', 100, ['b'])],
    ]);
    expect(clientUnion(members).map((e) => [e.client.clientId, e.processId])).toEqual([
      ['a', 'p1'],
      ['b', 'p2'],
      ['c', 'p1'],
    ]);
  });

  it('counts a client that reconnected elsewhere where it was seen last', () => {
    const members = new Map([
      ['p1', record('p1', 100, ['a', 'b'])],
      ['p2', record('p2', 200, ['a'])],
    ]);
    expect(clientUnion(members).map((e) => [e.client.clientId, e.processId])).toEqual([
      ['a', 'p2'],
      ['b', 'p1'],
    ]);
  });

  it('is empty when no process is live', () => {
    expect(clientUnion(new Map())).toEqual([]);
  });
});
