/**
 * Per-purpose seeds derived from the one simulation seed. Every random choice a virtual
 * client makes (shuffling, drop-out, straggling) is drawn from a source seeded by
 * (seed, purpose, client, round), never from a shared stream, so the outcome does not depend
 * on which worker ran the client or in which order replies arrived.
 */
import { seededRandomSource, type RandomSource } from '@fedkit/protocol';

/** What a derived seed is for; part of the hash so purposes never share a stream. */
export const SEED_PURPOSE = { sampling: 1, model: 2, partition: 3, shuffle: 4, dropout: 5, straggler: 6, data: 7, privacy: 8, clientRandom: 9, attack: 10, churn: 11, stragglerDelay: 12 } as const;

/** A 31-bit seed mixed from integers (a splitmix32-style finalizer over each part). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x9e3779b1) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h & 0x7fffffff;
}

/** A seeded source for one purpose of one client in one round. */
export function derivedRandom(seed: number, purpose: number, client: number, round: number): RandomSource {
  return seededRandomSource(mixSeed(seed, purpose, client, round));
}

/** One uniform draw in [0, 1) for (seed, purpose, client, round). */
export function derivedUniform(seed: number, purpose: number, client: number, round: number): number {
  return derivedRandom(seed, purpose, client, round).nextFloat();
}

/** The client id of virtual client `index`: zero-padded so that id order is index order. */
export function clientIdOf(index: number, numClients: number): string {
  return `sim-${String(index).padStart(String(Math.max(0, numClients - 1)).length, '0')}`;
}
