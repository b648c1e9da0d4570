import { describe, expect, it } from 'vitest';
import { metricsCsv, monotoneCurve, renderPlot, renderWallClockPlot, reportedPrivacy, roundsToTarget } from '@fedkit/simulation';
import type { RoundMetrics } from '@fedkit/server';

const pts = (accs: number[]): { round: number; accuracy: number }[] => accs.map((accuracy, i) => ({ round: i + 1, accuracy }));

describe('roundsToTarget (McMahan et al. 2017 convention)', () => {
  it('interpolates linearly between the last round below the target and the first at or above it', () => {
    expect(roundsToTarget(pts([0.9, 0.98]), 0.97)).toBeCloseTo(1.875, 12);
    expect(roundsToTarget(pts([0.5, 0.6, 0.7, 0.8]), 0.75)).toBeCloseTo(3.5, 12);
  });

  it('uses the monotone best-so-far curve, so a dip after a peak does not move the crossing', () => {
    // Raw: 0.96, 0.95 (dip), 0.98. Best so far: 0.96, 0.96, 0.98 → crossing between 2 and 3.
    expect(monotoneCurve(pts([0.96, 0.95, 0.98])).map((p) => p.accuracy)).toEqual([0.96, 0.96, 0.98]);
    expect(roundsToTarget(pts([0.96, 0.95, 0.98]), 0.97)).toBeCloseTo(2.5, 12);
  });

  it('returns the round itself on an exact hit, the first round when it already reaches the target, and null when never reached', () => {
    expect(roundsToTarget(pts([0.9, 0.97, 0.99]), 0.97)).toBe(2);
    expect(roundsToTarget(pts([0.99, 0.995]), 0.97)).toBe(1);
    expect(roundsToTarget(pts([0.9, 0.95, 0.96]), 0.97)).toBeNull();
    expect(roundsToTarget([], 0.5)).toBeNull();
  });

  it('handles rounds evaluated out of order and with gaps', () => {
    expect(roundsToTarget([{ round: 10, accuracy: 0.99 }, { round: 5, accuracy: 0.95 }], 0.97)).toBeCloseTo(7.5, 12);
  });
});

describe('run outputs', () => {
  const round = (r: number, accuracy: number, loss: number): RoundMetrics => ({
    round: r, attempt: 1, status: 'completed', modelVersion: r, selected: 10, replied: 10, failed: [],
    startedAt: `2026-01-01T00:00:0${r}.000Z`, durationMs: 100, trainPhaseMs: 90, aggregateMs: 1, evaluateMs: 9,
    bytesIn: 0, bytesOut: 0, train: { loss: 1 }, accuracy, loss,
  });

  it('writes one CSV line per round with the best-so-far accuracy, the learning rate and the wall-clock time', () => {
    const csv = metricsCsv([round(1, 0.9, 0.5), round(2, 0.85, 0.6)], (r) => 0.1 * 0.5 ** (r - 1)).trim().split('\n');
    expect(csv[0]).toBe('round,attempt,status,selected,replied,failed,accuracy,loss,bestAccuracy,trainLoss,learningRate,durationMs,trainPhaseMs,aggregateMs,evaluateMs,epsilon,delta,clipNorm,wallClockMs,stalenessMean,stalenessMax');
    // Round 2 ended 1,100 ms after round 1 began (its start + its duration).
    expect(csv[1]).toBe('1,1,completed,10,10,0,0.9,0.5,0.9,1,0.1,100,90,1,9,,,,100,,');
    expect(csv[2]).toBe('2,1,completed,10,10,0,0.85,0.6,0.9,1,0.05,100,90,1,9,,,,1100,,');
    const version = { ...round(1, 0.9, 0.5), async: { updatesFolded: 5, stalenessMean: 1.4, stalenessMax: 3, downWeighted: 0, refusedStale: 0, tasksSent: 7 } };
    expect(metricsCsv([version], () => 0.1).trim().split('\n')[1]!.endsWith(',100,1.4,3')).toBe(true);
  });

  it('writes ε, δ and the clip norm the server charged; none under local DP, where no accountant runs', () => {
    const snapshot = (mode: 'central' | 'local', epsilon: number) => ({
      mode, epsilon, delta: 1e-5, order: 8, budget: null, roundsCharged: mode === 'local' ? 0 : 1,
      lastRound: mode === 'local' ? null : { noiseMultiplier: 1, samplingRate: 0.1, clipNorm: 0.25 },
    });
    const central = { ...round(1, 0.9, 0.5), privacy: snapshot('central', 1.5) };
    const local = { ...round(1, 0.9, 0.5), privacy: snapshot('local', 0) };
    expect(metricsCsv([central], () => 0.1).trim().split('\n')[1]!.endsWith(',1.5,0.00001,0.25,100,,')).toBe(true);
    expect(metricsCsv([local], () => 0.1).trim().split('\n')[1]!.endsWith(',,0.00001,,100,,')).toBe(true);
    expect(reportedPrivacy(central)).toEqual({ mode: 'central', epsilon: 1.5, delta: 1e-5, roundsCharged: 1, clipNorm: 0.25 });
    expect(reportedPrivacy(local)).toMatchObject({ mode: 'local', epsilon: null });
    expect(reportedPrivacy(round(1, 0.9, 0.5))).toBeNull();
  });

  it('renders an SVG with both curves and the target line', () => {
    const svg = renderPlot([{ round: 1, accuracy: 0.9, loss: 0.4 }, { round: 2, accuracy: 0.95, loss: 0.2 }], { title: 'a < b', target: 0.97 });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('target 0.97');
    expect(svg).toContain('a &lt; b');
  });

  it('renders accuracy against wall-clock seconds, one line and legend entry per run', () => {
    const svg = renderWallClockPlot(
      [
        { name: 'sync <a>', points: [{ wallClockMs: 1000, accuracy: 0.8 }, { wallClockMs: 30_000, accuracy: 0.9 }] },
        { name: 'async', points: [{ wallClockMs: 500, accuracy: 0.85 }, { wallClockMs: 2000, accuracy: 0.88 }, { wallClockMs: 12_000, accuracy: 0.95 }] },
      ],
      { title: 'compare', target: 0.97 },
    );
    expect(svg.match(/<path d="M[^"]*"/g)!.map((p) => p.split(' L').length)).toEqual([2, 3]);
    expect(svg).toContain('wall-clock time since training started (s)');
    expect(svg).toContain('sync &lt;a&gt;');
    expect(svg).toContain('target 0.97');
    // The x axis spans the longest run (30 s).
    expect(svg).toContain('>30</text>');
  });
});
