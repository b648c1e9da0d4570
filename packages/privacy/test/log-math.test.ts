import { describe, expect, it } from 'vitest';
import { logAdd, logErfc, logSub } from '../src/accountant/log-math.js';

describe('logAdd / logSub', () => {
  it('add and subtract in log space, treating −∞ as zero', () => {
    expect(logAdd(Math.log(2), Math.log(3))).toBeCloseTo(Math.log(5), 15);
    expect(logAdd(-Infinity, 1.5)).toBe(1.5);
    expect(logAdd(-Infinity, -Infinity)).toBe(-Infinity);
    expect(logSub(Math.log(5), Math.log(3))).toBeCloseTo(Math.log(2), 15);
    expect(logSub(2, -Infinity)).toBe(2);
    expect(logSub(2, 2)).toBe(-Infinity);
  });

  it('stays finite where the values themselves overflow', () => {
    expect(logAdd(1000, 1000)).toBeCloseTo(1000 + Math.LN2, 12);
    expect(logSub(1001, 1000)).toBeCloseTo(1000 + Math.log(Math.E - 1), 12);
  });

  it('refuses a negative difference', () => {
    expect(() => logSub(1, 2)).toThrow(RangeError);
  });
});

describe('logErfc', () => {
  // Reference values: log(erfc(x)) from mpmath 1.3 at 50 significant digits.
  const reference: [number, number][] = [
    [-30, 0.6931471805599453],
    [-2.6, 0.6930291563871019],
    [-1, 0.6112323176780705],
    [-0.3, 0.28414589714140825],
    [0, 0],
    [1e-8, -1.1283791734617103e-8],
    [0.3, -0.3984300514400853],
    [1, -1.8496055099332482],
    [1.2, -2.41144035516693],
    [2, -5.364941264616638],
    [3, -10.720363041981113],
    [10, -102.87988902484489],
    [30, -903.9741171106439],
    [1e4, -100000009.78270532],
  ];

  it.each(reference)('log erfc(%d) matches mpmath to a relative 1e-14', (x, expected) => {
    const got = logErfc(x);
    if (expected === 0) expect(got === 0).toBe(true);
    else expect(Math.abs(got - expected) / Math.abs(expected)).toBeLessThan(1e-14);
  });

  it('handles the ends of the real line and NaN', () => {
    expect(logErfc(Infinity)).toBe(-Infinity);
    expect(logErfc(-Infinity)).toBeCloseTo(Math.LN2, 15);
    expect(logErfc(Number.NaN)).toBeNaN();
  });

  it('is continuous across the switch between series and continued fraction', () => {
    for (const x of [1.2, -1.2]) {
      const below = logErfc(x - 1e-12);
      const above = logErfc(x + 1e-12);
      expect(Math.abs(below - above)).toBeLessThan(1e-11);
    }
  });
});
