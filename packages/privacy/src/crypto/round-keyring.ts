/**
 * The server's X25519 key pair for one round. Clients encrypt their updates to the round's
 * public key; destroying the secret key when the round ends means that a key leaked later
 * (a memory dump, a stolen snapshot) exposes that one round's updates at most.
 */
import type { RandomSource } from '@fedkit/protocol';
import nacl from 'tweetnacl';
import { BOX_SECRET_KEY_BYTES } from './envelope.js';
import { rejectUpdate } from './errors.js';

/** A round's ephemeral key pair; see `createRoundKeyring`. */
export interface RoundKeyring {
  /** The round this key pair belongs to. */
  readonly round: number;
  /** The X25519 public key announced to the round's clients (a copy; 32 bytes). */
  readonly publicKey: Uint8Array;
  /** Whether `destroy` has run. */
  readonly destroyed: boolean;
  /**
   * Lends the secret key to `use` (openers only; never store or send it). Throws a
   * `round-key-destroyed` rejection once the keyring is destroyed.
   */
  withSecretKey<T>(use: (secretKey: Uint8Array) => T): T;
  /**
   * Overwrites the secret key with zeros. Best effort: JavaScript cannot reach copies a
   * library or the garbage collector made, so also drop every reference to the keyring.
   */
  destroy(): void;
}

/**
 * Draws a fresh X25519 key pair for `round` from `random` (the platform CSPRNG in
 * production).
 *
 * @example
 * const keyring = createRoundKeyring(round, cryptoRandomSource());
 * announce({ round, serverRoundKey: keyring.publicKey });
 * // ... open every update of the round, then:
 * keyring.destroy();
 */
export function createRoundKeyring(round: number, random: RandomSource): RoundKeyring {
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError(`round must be a non-negative integer, got ${round}`);
  const secretKey = new Uint8Array(BOX_SECRET_KEY_BYTES);
  random.fillBytes(secretKey);
  const publicKey = nacl.box.keyPair.fromSecretKey(secretKey).publicKey;
  let destroyed = false;
  return {
    round,
    get publicKey() {
      return publicKey.slice();
    },
    get destroyed() {
      return destroyed;
    },
    withSecretKey(use) {
      if (destroyed) throw rejectUpdate('round-key-destroyed', `the key pair of round ${round} was destroyed when the round ended`, { round });
      return use(secretKey);
    },
    destroy() {
      secretKey.fill(0);
      destroyed = true;
    },
  };
}
