import { seededRandomSource } from '@fedkit/protocol';
import { describe, expect, it } from 'vitest';
import { l2Norm } from '../src/clip.js';
import { clipMod, distributedDpMod, localDpMod } from '../src/dp/client-mods.js';
import { applyMods, type TrainMod, type TrainOutcome, type TrainRequest } from '../src/dp/mods.js';

const CTX = { clientId: 'c1' };
const outcome = (update: number[], metrics: Record<string, number> = { loss: 0.5 }): TrainOutcome =>
  Object.freeze({ update: Float32Array.from(update), numExamples: 12, metrics: Object.freeze(metrics) });
const request = (config: TrainRequest['config'] = {}): TrainRequest => Object.freeze({ round: 3, config: Object.freeze({ epochs: 1, ...config }) });

describe('applyMods', () => {
  it('folds with reduceRight: mods[0] sees the request first and the outcome last', async () => {
    const log: string[] = [];
    const tag =
      (name: string): TrainMod =>
      async (req, ctx, next) => {
        log.push(`${name} in`);
        const out = await next(req, ctx);
        log.push(`${name} out`);
        return { ...out, metrics: { ...out.metrics, [name]: 1 } };
      };
    const train = applyMods((req, ctx) => (log.push(`train ${ctx.clientId} round ${req.round}`), outcome([0])), [tag('a'), tag('b')]);
    const out = await train(request(), CTX);
    expect(log).toEqual(['a in', 'b in', 'train c1 round 3', 'b out', 'a out']);
    expect(out.metrics).toEqual({ loss: 0.5, a: 1, b: 1 });
  });

  it('with no mods runs the handler, sync or async', async () => {
    expect((await applyMods(() => outcome([1]), [])(request(), CTX)).update).toEqual(Float32Array.of(1));
    expect((await applyMods(async () => outcome([2]), [])(request(), CTX)).update).toEqual(Float32Array.of(2));
  });

  it('rejects what is not a handler or a mod', () => {
    expect(() => applyMods(null as never, [])).toThrow(TypeError);
    expect(() => applyMods(() => outcome([0]), [clipMod(1), 'x' as never])).toThrow(/mods\[1\] must be a function/);
  });
});

describe('clipMod', () => {
  it('clips an update above S to norm S, keeps one below, and reports dpUnclipped', async () => {
    const big = outcome([3, 4]);
    const out = await applyMods(() => big, [clipMod(1)])(request(), CTX);
    expect(l2Norm(out.update)).toBeLessThanOrEqual(1);
    expect(out.update[0]).toBeCloseTo(0.6, 6);
    expect(out.metrics).toEqual({ loss: 0.5, dpUnclipped: 0 });
    expect(out.numExamples).toBe(12);
    expect(big.update).toEqual(Float32Array.of(3, 4)); // not mutated
    const small = await applyMods(() => outcome([0.3, 0.4]), [clipMod(1)])(request(), CTX);
    expect(small.update).toEqual(Float32Array.of(0.3, 0.4));
    expect(small.metrics.dpUnclipped).toBe(1);
  });

  it('counts a norm exactly S as unclipped (‖Δ‖ ≤ S)', async () => {
    const out = await applyMods(() => outcome([3, 4]), [clipMod(5)])(request(), CTX);
    expect(out.metrics.dpUnclipped).toBe(1);
  });

  it('follows the clip norm in the train config when not given one; a given one wins', async () => {
    const follow = await applyMods(() => outcome([3, 4]), [clipMod()])(request({ clipNorm: 2.5 }), CTX);
    expect(l2Norm(follow.update)).toBeCloseTo(2.5, 5);
    const pinned = await applyMods(() => outcome([3, 4]), [clipMod(1)])(request({ clipNorm: 2.5 }), CTX);
    expect(l2Norm(pinned.update)).toBeCloseTo(1, 5);
  });

  it('fails with config-invalid when the train config lacks or garbles the clip norm', async () => {
    const train = applyMods(() => outcome([3, 4]), [clipMod()]);
    await expect(train(request(), CTX)).rejects.toMatchObject({ code: 'config-invalid', message: expect.stringMatching(/no "clipNorm"/) });
    await expect(train(request({ clipNorm: -1 }), CTX)).rejects.toMatchObject({ code: 'config-invalid' });
    await expect(train(request({ clipNorm: '1' }), CTX)).rejects.toMatchObject({ code: 'config-invalid' });
  });

  it('rejects a non-finite update and a handler that returns no Float32Array', async () => {
    await expect(applyMods(() => outcome([Number.NaN, 1]), [clipMod(1)])(request(), CTX)).rejects.toMatchObject({ code: 'update-not-finite' });
    await expect(applyMods(() => ({ update: [1] }) as never, [clipMod(1)])(request(), CTX)).rejects.toThrow(TypeError);
    expect(() => clipMod(0)).toThrow(RangeError);
  });
});

describe('localDpMod and distributedDpMod', () => {
  it('clip then noise, never touching the input, and report the pre-clip bit', async () => {
    const input = outcome([30, 40, 0, 0]);
    const out = await applyMods(() => input, [localDpMod({ clipNorm: 1, noiseMultiplier: 0.001, random: seededRandomSource(1) })])(request(), CTX);
    expect(input.update).toEqual(Float32Array.of(30, 40, 0, 0));
    expect(out.update[0]).toBeCloseTo(0.6, 2);
    expect(out.update[1]).toBeCloseTo(0.8, 2);
    expect(out.update[2]).not.toBe(0);
    expect(out.metrics.dpUnclipped).toBe(0);
  });

  it('with z = 0 only clip', async () => {
    const out = await applyMods(() => outcome([0.1, 0]), [distributedDpMod({ clipNorm: 1, noiseMultiplier: 0, expectedClients: 4 })])(request(), CTX);
    expect(out.update).toEqual(Float32Array.of(0.1, 0));
  });

  it('read S, z and m from the train config (the distributed wrapper announces them); pinned values win', async () => {
    const config = { clipNorm: 1, noiseMultiplier: 0, expectedClients: 4 };
    const follow = await applyMods(() => outcome([3, 4]), [distributedDpMod()])(request(config), CTX);
    expect(l2Norm(follow.update)).toBeCloseTo(1, 5);
    const missing = applyMods(() => outcome([3, 4]), [distributedDpMod({ clipNorm: 1, noiseMultiplier: 1 })]);
    await expect(missing(request(), CTX)).rejects.toThrow(/no "expectedClients" and the DP mod was not given expectedClients/);
    const local = applyMods(() => outcome([3, 4]), [localDpMod({ noiseMultiplier: 0 })]);
    expect(l2Norm((await local(request({ clipNorm: 2 }), CTX)).update)).toBeCloseTo(2, 5);
  });

  it('draw different noise from the default CSPRNG on every call', async () => {
    const train = applyMods(() => outcome([0, 0, 0, 0]), [localDpMod({ clipNorm: 1, noiseMultiplier: 1 })]);
    const [a, b] = [await train(request(), CTX), await train(request(), CTX)];
    expect(a.update).not.toEqual(b.update);
  });

  it('validate their options', () => {
    expect(() => localDpMod({ clipNorm: 1, noiseMultiplier: -0.1 })).toThrow(/noiseMultiplier must be a finite number ≥ 0/);
    expect(() => distributedDpMod({ expectedClients: 0 })).toThrow(RangeError);
    expect(() => localDpMod({ sigma: 1 } as never)).toThrow(/no option "sigma"/);
    expect(() => localDpMod({ random: Math as never })).toThrow(TypeError);
  });
});
