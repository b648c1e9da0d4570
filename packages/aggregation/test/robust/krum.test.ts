/**
 * Krum, Multi-Krum and Bulyan: the conformance suite (f = 0, the only f its 3-reply rounds
 * allow; unweighted), known answers derived by hand below, and the selection rules' edge
 * cases. Compared with Flower's `aggregate_krum` / `aggregate_bulyan` (adap/flower
 * src/py/flwr/server/strategy/aggregate.py) and its krum_test.py; where Fedkit differs on
 * purpose (ties, Multi-Krum's weights, too few replies) the test says so.
 */
import { FedkitError, seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { bulyan } from '../../src/robust/bulyan.js';
import { bulyanSelect, krumScores, krumSelect } from '../../src/robust/krum-select.js';
import { krum, multiKrum } from '../../src/robust/krum.js';
import { describeStrategy } from '../conformance.js';
import { expectCloseTo, flatLayout, reply, runRound } from '../server-opt-harness.js';

const unweighted = { weighted: false } as const;
describeStrategy('krum()', () => krum(), unweighted);
describeStrategy('krum({ kernel: js })', () => krum({ kernel: 'js' }), unweighted);
describeStrategy('multiKrum({ numClientsToKeep: 2 })', () => multiKrum({ numClientsToKeep: 2 }), unweighted);
describeStrategy('bulyan()', () => bulyan(), unweighted);
describeStrategy('bulyan({ kernel: js })', () => bulyan({ kernel: 'js' }), unweighted);

const ZERO1 = new Float32Array(1);
/** One-dimensional replies with ids a, b, c, ... and unequal example counts (which must not matter). */
const line = (values: number[]) => values.map((v, k) => reply(String.fromCharCode(97 + k), 1 + 13 * k, [v]));

describe.each(['auto', 'js'] as const)('krum, kernel %s', (kernel) => {
  it("picks Flower's krum_test answer: 0.7 of [0.2, 0.7, 1.0]", () => {
    // Flower's test_aggregate_fit uses f = 1 with n = 3, which breaks n ≥ 2f + 3; with f = 0 the
    // neighbour count n − f − 2 = 1 is the same as Flower's max(1, 3 − 1 − 2). Squared distances
    // d01 = 4·0.25 = 1, d02 = 4·0.64 = 2.56, d12 = 4·0.09 = 0.36: scores [1, 0.36, 0.36], a tie
    // that Flower breaks by arrival order and Fedkit by client id: "1" either way.
    const replies = [0.2, 0.7, 1.0].map((v, k) => reply(String(k), 5, [v, v, v, v]));
    expect(runRound(krum({ kernel }), 1, new Float32Array(4), replies)).toEqual(new Float32Array(4).fill(0.7));
    expect(runRound(krum({ kernel }), 1, new Float32Array(4), replies.slice().reverse())).toEqual(new Float32Array(4).fill(0.7));
  });

  it('scores by the n − f − 2 nearest and breaks ties by client id (known answer)', () => {
    // Values [0, 1, 2, 3, 100], f = 1: 2 neighbours each. Scores 0: 1 + 4 = 5, 1: 1 + 1 = 2,
    // 2: 1 + 1 = 2, 3: 1 + 4 = 5, 100: 97² + 98² = 19013. Tie 1 / 2 goes to "b" (value 1).
    const replies = line([0, 1, 2, 3, 100]);
    expect(Array.from(runRound(krum({ numMaliciousClients: 1, kernel }), 1, ZERO1, replies))).toEqual([1]);
    // Multi-Krum: m = 3 keeps b, c and then a (a and d tie at 5): mean(1, 2, 0) = 1;
    // m = 4 keeps a, b, c, d: mean 1.5, unweighted (Flower would weight by example counts).
    expect(Array.from(runRound(multiKrum({ numMaliciousClients: 1, numClientsToKeep: 3, kernel }), 1, ZERO1, replies))).toEqual([1]);
    expect(Array.from(runRound(multiKrum({ numMaliciousClients: 1, numClientsToKeep: 4, kernel }), 1, ZERO1, replies))).toEqual([1.5]);
  });

  it('keeps m = n − f by default (known answer)', () => {
    // Values [0, 1, 2, 3, 100], f = 1: m = 4 keeps a, b, c, d (scores 5, 2, 2, 5): mean 1.5.
    expect(Array.from(runRound(multiKrum({ numMaliciousClients: 1, kernel }), 1, ZERO1, line([0, 1, 2, 3, 100])))).toEqual([1.5]);
  });

  it('fails the round (null) with fewer than 2f + 3 replies, and reports how many it kept', () => {
    const strategy = krum({ numMaliciousClients: 1, kernel });
    const accumulator = strategy.beginTrain(1, ZERO1, flatLayout(1));
    for (const r of line([0, 1, 2, 3])) accumulator.add(r);
    expect(strategy.aggregateTrain(1, accumulator, [])).toBeNull();
    const multi = multiKrum({ numMaliciousClients: 1, numClientsToKeep: 3, kernel });
    const five = multi.beginTrain(1, ZERO1, flatLayout(1));
    for (const r of line([0, 1, 2, 3, 100])) five.add(r);
    expect(multi.aggregateTrain(1, five, [])?.metrics.krumSelected).toBe(3);
  });
});

describe.each(['auto', 'js'] as const)('bulyan, kernel %s', (kernel) => {
  it('selects θ = n − 2f by repeated Krum, then averages the β = θ − 2f closest to the median (known answer)', () => {
    // Values [0, 1, 2, 3, 4, 5, 1000], f = 1, θ = 5, β = 3. Krum over what is left, with
    // max(1, n' − f − 2) neighbours:
    //   n' = 7, 4 neighbours: scores 0: 30, 1: 15, 2: 10, 3: 10, 4: 15, 5: 30 → c (2), tie with d
    //   n' = 6, 3: 0: 26, 1: 14, 3: 9, 4: 11, 5: 21 → d (3)
    //   n' = 5, 2: 0: 17, 1: 10, 4: 10, 5: 17 → b (1), tie with e
    //   n' = 4, 1: 0: 16, 4: 1, 5: 1 → e (4), tie with f
    //   n' = 3, 1: 0: 25, 5: 25 → a (0), tie with f
    // Selected {0, 1, 2, 3, 4}: median 2, the 3 closest {1, 2, 3}, mean 2. The 1000 never counts.
    const replies = line([0, 1, 2, 3, 4, 5, 1000]);
    const strategy = bulyan({ numMaliciousClients: 1, kernel });
    const accumulator = strategy.beginTrain(1, ZERO1, flatLayout(1));
    for (const r of replies.slice().reverse()) accumulator.add(r);
    const result = strategy.aggregateTrain(1, accumulator, []);
    expect(Array.from(result!.weights)).toEqual([2]);
    expect(result!.metrics.krumSelected).toBe(5);
  });

  it('with f = 0 is the plain, unweighted mean', () => {
    expectCloseTo(runRound(bulyan({ kernel }), 1, ZERO1, line([0, 1, 5])), [2], 6);
  });

  it('fails the round (null) with fewer than 4f + 3 replies', () => {
    const strategy = bulyan({ numMaliciousClients: 1, kernel });
    const accumulator = strategy.beginTrain(1, ZERO1, flatLayout(1));
    for (const r of line([0, 1, 2, 3, 4, 5])) accumulator.add(r);
    expect(strategy.aggregateTrain(1, accumulator, [])).toBeNull();
  });
});

describe('Krum selection rules', () => {
  // Squared distances of the values [0, 1, 2, 3, 100].
  const values = [0, 1, 2, 3, 100];
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const matrix = Float64Array.from(values.flatMap((x) => values.map((y) => (x - y) ** 2)));

  it('scores each member by its nearest neighbours within the subset only', () => {
    expect(Array.from(krumScores(matrix, 5, [0, 1, 2, 3, 4], 2))).toEqual([5, 2, 2, 5, 19013]);
    expect(Array.from(krumScores(matrix, 5, [0, 3, 4], 1))).toEqual([9, 9, 97 ** 2]);
    expect(Array.from(krumScores(matrix, 5, [4], 1))).toEqual([0]);
  });

  it('throws too-few-replies below 2f + 3 (Krum) and 4f + 3 (Bulyan), naming the bound', () => {
    expect(() => krumSelect(matrix, ids, 2, 1)).toThrow(FedkitError);
    expect(() => krumSelect(matrix, ids, 2, 1)).toThrow(expect.objectContaining({ code: 'too-few-replies' }));
    expect(() => krumSelect(matrix, ids, 2, 1)).toThrow(/at least 7 updates \(n ≥ 2f \+ 3\), got 5/);
    expect(() => krumSelect(matrix, ids, 0, 6)).toThrow(/at least 6/);
    expect(() => bulyanSelect(matrix, ids, 1)).toThrow(/at least 7 updates \(n ≥ 4f \+ 3\), got 5/);
    expect(krumSelect(matrix, ids, 1, 5)).toEqual([1, 2, 0, 3, 4]);
  });

  it("Bulyan's incremental selection equals Krum re-run from scratch on what is left", () => {
    const random = seededRandomSource(9);
    for (const [n, f] of [[7, 1], [23, 5], [40, 3]] as const) {
      const points = Array.from({ length: n }, () => [random.nextFloat(), random.nextFloat(), random.nextFloat()]);
      const dist = Float64Array.from(points.flatMap((p) => points.map((q) => p.reduce((s, v, k) => s + (v - q[k]!) ** 2, 0))));
      const names = points.map((_, i) => `c${String(i).padStart(2, '0')}`);
      let left = names.map((_, i) => i);
      const reference: number[] = [];
      while (left.length > 2 * f) {
        const scores = krumScores(dist, n, left, Math.max(1, left.length - f - 2));
        const best = left.reduce((b, i, k) => (scores[k]! < scores[left.indexOf(b)]! ? i : b), left[0]!);
        reference.push(best);
        left = left.filter((i) => i !== best);
      }
      expect(bulyanSelect(dist, names, f), `n = ${n}, f = ${f}`).toEqual(reference);
    }
  });

  it('does not depend on the order of the ids, only on their values', () => {
    // The same five points, listed in another order with the same ids attached: same choice.
    const order = [4, 2, 0, 3, 1];
    const permuted = Float64Array.from(order.flatMap((i) => order.map((j) => matrix[i * 5 + j]!)));
    const chosen = krumSelect(permuted, order.map((i) => ids[i]!), 1, 3).map((k) => ids[order[k]!]);
    expect(chosen).toEqual(['b', 'c', 'a']);
  });
});

describe('krum, multiKrum and bulyan options', () => {
  it('reject minReplies below the algorithm minimum, naming the bound', () => {
    expect(() => krum({ numMaliciousClients: 2, minReplies: 6 })).toThrow(/minReplies must be at least 7 \(Krum needs n ≥ 2f \+ 3 = 7\), got 6/);
    expect(() => multiKrum({ numClientsToKeep: 10, minReplies: 5 })).toThrow(/at least 10/);
    expect(() => bulyan({ numMaliciousClients: 1, minReplies: 6 })).toThrow(/minReplies must be at least 7 \(Bulyan needs n ≥ 4f \+ 3 = 7\)/);
    expect(krum({ numMaliciousClients: 2, minReplies: 9 }).name).toBe('krum');
  });

  it('reject a negative or fractional f and a zero or non-numeric m', () => {
    expect(() => krum({ numMaliciousClients: -1 })).toThrow(/numMaliciousClients must be an integer in \[0/);
    expect(() => bulyan({ numMaliciousClients: 1.5 })).toThrow(RangeError);
    expect(() => multiKrum({ numClientsToKeep: '3' as unknown as number })).toThrow(/numClientsToKeep must be a number, got string/);
    expect(() => multiKrum({ numClientsToKeep: 0 })).toThrow(/numClientsToKeep must be an integer in \[1/);
    expect(() => krum({ numClientsToKeep: 2 } as object)).toThrow(/krum has no option "numClientsToKeep"/);
  });
});
