import { describe, expect, it } from 'vitest';
import { pairwiseMaskSeed } from '../src/secagg/key-agreement.js';
import { expandMask } from '../src/secagg/mask-prg.js';
import { addWords, pairwiseSign } from '../src/secagg/masking.js';
import type { SecAggReply } from '../src/secagg/messages.js';
import { DEFAULT_QUANTIZATION } from '../src/secagg/quantize.js';
import { combineShares } from '../src/secagg/shamir.js';
import { maxAbsDiff, plainWeightedMean, runRound, type Outcome } from './secagg-harness.js';

/** χ² statistic of the top bytes of `words` against the uniform distribution (255 d.o.f.). */
function chiSquareTopByte(words: Uint32Array): number {
  const bins = new Array<number>(256).fill(0);
  for (const w of words) bins[w >>> 24]!++;
  const expected = words.length / 256;
  return bins.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
}

/** Pearson correlation of the words (skipping the weight word) with the client's update. */
function correlation(words: Uint32Array, update: Float32Array): number {
  const n = update.length;
  let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    const x = words[i + 1]!;
    const y = update[i]!;
    sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
  }
  return (sxy - (sx * sy) / n) / Math.sqrt((sxx - (sx * sx) / n) * (syy - (sy * sy) / n));
}

const maskedOf = (reply: SecAggReply): Uint32Array =>
  reply.kind === 'secagg-masked' ? new Uint32Array(reply.masked.slice().buffer) : new Uint32Array(0);

// p = 0.001 quantile of χ² with 255 degrees of freedom, and 5 standard errors of a null correlation.
const CHI2_BOUND = 330.5;
const vectorLength = 20_000;
const CORRELATION_BOUND = 5 / Math.sqrt(vectorLength);

describe("what the server receives reveals no individual update", () => {
  let outcome: Outcome;
  const round = async (): Promise<Outcome> => {
    outcome ??= await runRound({
      clients: 12, threshold: 4, neighbourCount: 6, vectorLength, seed: 41,
      // Strongly structured updates, so that any leak would show up as correlation.
      input: (id, random, length) => ({ update: Float32Array.from({ length }, (_, j) => Math.sin(j / 50 + id) * 0.9 + (random.nextFloat() - 0.5) * 0.1), weight: 1000 }),
      dropAt: { 'collect-masked': [5], unmask: [9] },
    });
    return outcome;
  };

  it('the round itself is correct (so the transcript is that of a working round)', async () => {
    const o = await round();
    const { mean, tolerance } = plainWeightedMean(o, DEFAULT_QUANTIZATION);
    expect(maxAbsDiff(o.result!.weightedMean, mean)).toBeLessThan(tolerance);
  });

  it('every masked vector is uniform and uncorrelated with its update', async () => {
    const o = await round();
    const masked = o.transcript.filter((r) => r.kind === 'secagg-masked');
    expect(masked).toHaveLength(11);
    for (const reply of masked) {
      const words = maskedOf(reply);
      expect(chiSquareTopByte(words)).toBeLessThan(CHI2_BOUND);
      expect(Math.abs(correlation(words, o.inputs.get(reply.from)!.update))).toBeLessThan(CORRELATION_BOUND);
    }
    // Control: the same statistics flag an unmasked quantized update immediately.
    const plain = Uint32Array.from([0, ...o.inputs.get(1)!.update].map((x) => Math.round((x + 8) * 262143.9)));
    expect(chiSquareTopByte(plain)).toBeGreaterThan(CHI2_BOUND);
    expect(Math.abs(correlation(plain, o.inputs.get(1)!.update))).toBeGreaterThan(0.99);
  });

  it('stripping every mask the server can rebuild still leaves each survivor hidden by its live neighbours', async () => {
    // The server's best effort from its transcript: rebuild each survivor's self-mask seed
    // and each dropped client's mask key, and remove those masks from a survivor's vector.
    // What remains carries the pairwise masks with surviving neighbours, whose seeds the
    // server cannot compute.
    const o = await round();
    const t = o.server.params.threshold;
    const revealed = { self: new Map<number, Uint8Array[]>(), key: new Map<number, Uint8Array[]>() };
    for (const reply of o.transcript) {
      if (reply.kind !== 'secagg-unmask-shares') continue;
      for (const { owner, share } of reply.selfMaskShares) revealed.self.set(owner, [...(revealed.self.get(owner) ?? []), share]);
      for (const { owner, share } of reply.maskKeyShares) revealed.key.set(owner, [...(revealed.key.get(owner) ?? []), share]);
    }
    const keyOf = (id: number) => o.transcript.find((r) => r.kind === 'secagg-keys' && r.from === id) as Extract<SecAggReply, { kind: 'secagg-keys' }>;
    for (const reply of o.transcript.filter((r) => r.kind === 'secagg-masked')) {
      const u = reply.from;
      const words = maskedOf(reply);
      addWords(words, await expandMask(combineShares(revealed.self.get(u)!, t), words.length), -1);
      for (const [v, shares] of revealed.key) {
        if (!o.server.routedTo.get(u)!.includes(v)) continue;
        const seed = pairwiseMaskSeed(combineShares(shares, t), { id: v, publicKey: keyOf(v).maskPublicKey }, { id: u, publicKey: keyOf(u).maskPublicKey }, o.server.round);
        addWords(words, await expandMask(seed, words.length), pairwiseSign(u, v) === 1 ? -1 : 1);
      }
      expect(chiSquareTopByte(words)).toBeLessThan(CHI2_BOUND);
      expect(Math.abs(correlation(words, o.inputs.get(u)!.update))).toBeLessThan(CORRELATION_BOUND);
    }
  });

  it('the server never receives both kinds of share for one client, and no mask-key share of a survivor', async () => {
    const o = await round();
    const selfOwners = new Set<number>();
    const keyOwners = new Set<number>();
    for (const reply of o.transcript) {
      if (reply.kind !== 'secagg-unmask-shares') continue;
      for (const { owner } of reply.selfMaskShares) selfOwners.add(owner);
      for (const { owner } of reply.maskKeyShares) keyOwners.add(owner);
    }
    expect([...selfOwners].filter((id) => keyOwners.has(id))).toEqual([]);
    expect([...keyOwners]).toEqual([5]);
    const maskedFrom = new Set(o.transcript.filter((r) => r.kind === 'secagg-masked').map((r) => r.from));
    for (const id of keyOwners) expect(maskedFrom.has(id)).toBe(false);
    expect([...selfOwners].sort((a, b) => a - b)).toEqual([...maskedFrom].sort((a, b) => a - b));
  });

  it('no client secret (cipher key, mask key, self-mask seed) appears anywhere in the transcript', async () => {
    const o = await round();
    const blobs: Buffer[] = [];
    const collect = (value: unknown): void => {
      if (value instanceof Uint8Array) blobs.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      else if (Array.isArray(value)) value.forEach(collect);
      else if (typeof value === 'object' && value !== null) Object.values(value).forEach(collect);
    };
    collect(o.transcript);
    expect(o.secrets.size).toBe(12); // client 5 shared keys before it vanished
    for (const secrets of o.secrets.values()) {
      for (const secret of [secrets.cipherSecretKey, secrets.maskSecretKey, secrets.selfMaskSeed]) {
        const needle = Buffer.from(secret);
        expect(blobs.some((blob) => blob.indexOf(needle) !== -1)).toBe(false);
      }
    }
  });

  it('clients forget their mask key and self-mask seed once their input is masked', async () => {
    const o = await round();
    const client = o.clients.get(1)!;
    expect(client.maskKeys!.secretKey.every((b) => b === 0)).toBe(true);
    expect(client.selfMaskSeed!.every((b) => b === 0)).toBe(true);
  });
});
