/**
 * Unit tests of the Byzantine attack: the attacker set is a seeded sample of the right size,
 * and each kind replaces the update as documented.
 */
import { describe, expect, it } from 'vitest';
import { attackedUpdate, chooseAttackers } from '@fedkit/simulation';

describe('chooseAttackers', () => {
  it('picks ⌊fraction·K⌋ distinct clients, the same for a seed and different across seeds', () => {
    const a = chooseAttackers(100, 0.25, 9);
    expect(a).toHaveLength(25);
    expect(new Set(a).size).toBe(25);
    expect(a.every((i) => Number.isInteger(i) && i >= 0 && i < 100)).toBe(true);
    expect(a).toEqual([...a].sort((x, y) => x - y));
    expect(chooseAttackers(100, 0.25, 9)).toEqual(a);
    expect(chooseAttackers(100, 0.25, 10)).not.toEqual(a);
    expect(chooseAttackers(7, 0.5, 1)).toHaveLength(3);
  });

  it('covers every client about equally often across seeds', () => {
    const counts = new Array<number>(10).fill(0);
    for (let seed = 0; seed < 2000; seed++) for (const i of chooseAttackers(10, 0.3, seed)) counts[i]!++;
    // Each client is expected 600 times (2000 · 3/10); binomial sd ≈ 20.5, so ±5 sd.
    for (const c of counts) expect(Math.abs(c - 600)).toBeLessThan(103);
  });
});

describe('attackedUpdate', () => {
  const update = Float32Array.from([1, -2, 0.5, 0]);

  it('sign-flip sends −scale·Δ and scale sends scale·Δ', () => {
    expect([...attackedUpdate(update, { kind: 'sign-flip', scale: 1 }, 1, 0, 1)]).toEqual([-1, 2, -0.5, -0]);
    expect([...attackedUpdate(update, { kind: 'sign-flip', scale: 3 }, 1, 0, 1)]).toEqual([-3, 6, -1.5, -0]);
    expect([...attackedUpdate(update, { kind: 'scale', scale: 10 }, 1, 0, 1)]).toEqual([10, -20, 5, 0]);
    expect([...update]).toEqual([1, -2, 0.5, 0]);
  });

  it('gaussian-noise sends seeded N(0, scale²) noise that ignores Δ', () => {
    const big = new Float32Array(20_000).fill(5);
    const noise = attackedUpdate(big, { kind: 'gaussian-noise', scale: 2 }, 1, 3, 4);
    let sum = 0;
    let sq = 0;
    for (const v of noise) {
      sum += v;
      sq += v * v;
    }
    const mean = sum / noise.length;
    // Mean 0 ± 5·2/√20000 ≈ 0.071; variance 4 ± 5·4·√(2/20000) = 0.2.
    expect(Math.abs(mean)).toBeLessThan(0.071);
    expect(Math.abs(sq / noise.length - mean * mean - 4)).toBeLessThan(0.2);
    expect(attackedUpdate(big, { kind: 'gaussian-noise', scale: 2 }, 1, 3, 4)).toEqual(noise);
    expect(attackedUpdate(big, { kind: 'gaussian-noise', scale: 2 }, 1, 3, 5)).not.toEqual(noise);
  });
});
