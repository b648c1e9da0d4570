/**
 * The nonces already accepted in one round, so that a captured envelope sent again is
 * refused instead of being counted twice. Nonces are remembered per client: one client
 * cannot get another's envelope refused by racing it with a copy of its nonce.
 */
import { toHex } from './bytes.js';

/** The (client, nonce) pairs accepted in one round; see `createSeenNonces`. */
export interface SeenNonces {
  /** The round whose nonces these are. */
  readonly round: number;
  /** How many envelopes were accepted. */
  readonly size: number;
  has(clientId: string, nonce: Uint8Array): boolean;
  add(clientId: string, nonce: Uint8Array): void;
}

/** An empty nonce ledger for `round`. Create one per round and drop it with the round. */
export function createSeenNonces(round: number): SeenNonces {
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError(`round must be a non-negative integer, got ${round}`);
  const seen = new Set<string>();
  // The client id comes last, after a fixed-length hex nonce, so no two pairs share a key.
  const key = (clientId: string, nonce: Uint8Array): string => `${toHex(nonce)}/${clientId}`;
  return {
    round,
    get size() {
      return seen.size;
    },
    has: (clientId, nonce) => seen.has(key(clientId, nonce)),
    add: (clientId, nonce) => {
      seen.add(key(clientId, nonce));
    },
  };
}
