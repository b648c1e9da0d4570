import { describe, expect, it } from 'vitest';
import { buildNeighbourGraph, neighbourGraphDegree } from '../src/secagg/graph.js';

const seedOf = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** The first way the graph fails to be simple, `degree`-regular and symmetric, or null. */
function graphFault(n: number, k: number, seed: Uint8Array): string | null {
  const graph = buildNeighbourGraph(range(n), k, seed);
  const degree = neighbourGraphDegree(n, k);
  if (graph.degree !== degree) return `n=${n} k=${k}: degree ${graph.degree}, expected ${degree}`;
  for (const [id, neighbours] of graph.neighbours) {
    if (neighbours.length !== degree || new Set(neighbours).size !== degree) return `n=${n} k=${k}: ${id} has ${neighbours.length} neighbours`;
    if (neighbours.includes(id)) return `n=${n} k=${k}: ${id} is its own neighbour`;
    for (const other of neighbours) if (!graph.neighbours.get(other)!.includes(id)) return `n=${n} k=${k}: ${id} → ${other} is one-way`;
  }
  return null;
}

describe('SecAgg+ neighbour graph', () => {
  it('is regular and symmetric for every n ≤ 40 and k ≤ n', () => {
    const faults: string[] = [];
    for (let n = 2; n <= 40; n++) {
      for (let k = 1; k <= n; k++) {
        const fault = graphFault(n, k, seedOf(n + k));
        if (fault !== null) faults.push(fault);
      }
    }
    expect(faults).toEqual([]);
  });

  it('has degree k, k + 1 when k and n are both odd, and n − 1 when k ≥ n − 1 (SecAgg)', () => {
    expect(neighbourGraphDegree(100, 6)).toBe(6);
    expect(neighbourGraphDegree(100, 7)).toBe(7);
    expect(neighbourGraphDegree(101, 7)).toBe(8);
    expect(neighbourGraphDegree(10, 9)).toBe(9);
    expect(neighbourGraphDegree(10, 50)).toBe(9);
    expect(buildNeighbourGraph(range(10), 9, seedOf(1)).neighbours.get(4)).toEqual([1, 2, 3, 5, 6, 7, 8, 9, 10]);
  });

  it('is deterministic for a seed and independent of the order ids are listed in', () => {
    const ids = [17, 3, 250, 9, 41, 8, 77, 1000];
    const a = buildNeighbourGraph(ids, 4, seedOf(5));
    const b = buildNeighbourGraph([...ids].reverse(), 4, seedOf(5));
    expect([...a.neighbours]).toEqual([...b.neighbours]);
    expect(a.ids).toEqual([...ids].sort((x, y) => x - y));
  });

  it('differs across seeds: two seeds give different graphs for n = 100, k = 8', () => {
    const a = buildNeighbourGraph(range(100), 8, seedOf(1));
    const b = buildNeighbourGraph(range(100), 8, seedOf(2));
    expect([...a.neighbours]).not.toEqual([...b.neighbours]);
  });

  it('spreads neighbours over the whole id range (the ring is shuffled)', () => {
    // Without the shuffle, client 1's neighbours would be 2…5 and 97…100. Over 200 seeds,
    // each other client is client 1's neighbour with probability 8/99: expect 200·8/99 ≈ 16
    // per id; every id should be seen at least once (miss probability (1 − 8/99)^200 ≈ 5e−8).
    const seen = new Set<number>();
    for (let s = 0; s < 200; s++) {
      const seed = new Uint8Array(32);
      new DataView(seed.buffer).setUint32(0, s);
      for (const id of buildNeighbourGraph(range(100), 8, seed).neighbours.get(1)!) seen.add(id);
    }
    expect(seen.size).toBe(99);
  });

  it('checks its arguments', () => {
    expect(() => buildNeighbourGraph([1, 1, 2], 1, seedOf(0))).toThrow(RangeError);
    expect(() => buildNeighbourGraph([0, 1], 1, seedOf(0))).toThrow(RangeError);
    expect(() => buildNeighbourGraph([1, 2], 0, seedOf(0))).toThrow(RangeError);
    expect(() => buildNeighbourGraph([1, 2], 1, new Uint8Array(16))).toThrow(RangeError);
  });
});
