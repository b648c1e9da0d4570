/**
 * Byzantine clients for robustness experiments: a seeded, fixed subset of the virtual
 * clients (⌊fraction·K⌋ of them, the same for every round) replaces its honest update Δ
 * with −scale·Δ (`sign-flip`), scale·Δ (`scale`) or pure N(0, scale²) noise
 * (`gaussian-noise`). The attack is a client mod placed outermost, so it acts on exactly
 * what an honest client would have sent (after its own DP mod, if any): a malicious device
 * controls its upload, not the server's checks.
 */
import { addGaussianNoise, type TrainMod } from '@fedkit/privacy';
import { seededRandomSource } from '@fedkit/protocol';
import { SEED_PURPOSE, derivedRandom, mixSeed } from './seeds.js';

export const ATTACK_KINDS = ['sign-flip', 'scale', 'gaussian-noise'] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

/** The attack as resolved: `clients` are the attackers' indices, ascending. */
export interface ResolvedAttack {
  kind: AttackKind;
  /** Fraction of K asked for. */
  fraction: number;
  /** −scale·Δ, scale·Δ, or the noise's standard deviation. */
  scale: number;
  clients: number[];
}

/**
 * The attackers: ⌊fraction·K⌋ client indices drawn without replacement (partial
 * Fisher–Yates) from a stream seeded by (seed, attack), so the set depends on the seed only.
 *
 * @example chooseAttackers(100, 0.2, 1) // 20 indices, the same on every call
 */
export function chooseAttackers(numClients: number, fraction: number, seed: number): number[] {
  const count = Math.floor(fraction * numClients);
  const random = seededRandomSource(mixSeed(seed, SEED_PURPOSE.attack));
  const order = Array.from({ length: numClients }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random.nextFloat() * (numClients - i));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, count).sort((a, b) => a - b);
}

/** Replaces `update` as the attack says; the noise of client `index` in `round` is seeded. */
export function attackedUpdate(update: Float32Array, attack: Pick<ResolvedAttack, 'kind' | 'scale'>, seed: number, index: number, round: number): Float32Array {
  if (attack.kind === 'gaussian-noise') {
    return addGaussianNoise(new Float32Array(update.length), attack.scale, derivedRandom(seed, SEED_PURPOSE.attack, index, round));
  }
  const factor = attack.kind === 'sign-flip' ? -attack.scale : attack.scale;
  const out = new Float32Array(update.length);
  for (let i = 0; i < update.length; i++) out[i] = factor * update[i]!;
  return out;
}

/** The client mod of virtual client `index` when it is an attacker. */
export function attackMod(attack: ResolvedAttack, seed: number, index: number): TrainMod {
  return async (request, ctx, next) => {
    const outcome = await next(request, ctx);
    return { ...outcome, update: attackedUpdate(outcome.update, attack, seed, index, request.round) };
  };
}
