/**
 * Injected randomness. Everything that privacy or fairness depends on (client sampling,
 * noise, masks, keys) draws from a `RandomSource` passed in by the caller, so production
 * uses the platform CSPRNG and tests and simulations use a seeded generator. Nothing in
 * Fedkit calls Math.random for these purposes.
 */

export interface RandomSource {
  /** `'crypto'` for the platform CSPRNG, `'seeded'` for the deterministic test generator. */
  readonly kind: 'crypto' | 'seeded';
  /** Fills `bytes` with random bytes. */
  fillBytes(bytes: Uint8Array): void;
  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** A uniform float in [0, 1) with 53 bits of precision. */
  nextFloat(): number;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

function floatFromTwoWords(hi: number, lo: number): number {
  // 27 high bits and 26 low bits make a 53-bit mantissa.
  return ((hi >>> 5) * 67108864 + (lo >>> 6)) / TWO_POW_53;
}

/** The CSPRNG of the platform (`crypto.getRandomValues`, in Node 20+ and browsers). */
export function cryptoRandomSource(): RandomSource {
  const pool = new Uint32Array(256);
  let next = pool.length;
  const word = (): number => {
    if (next === pool.length) {
      globalThis.crypto.getRandomValues(pool);
      next = 0;
    }
    return pool[next++]!;
  };
  return {
    kind: 'crypto',
    fillBytes(bytes) {
      // getRandomValues accepts at most 65536 bytes per call.
      for (let offset = 0; offset < bytes.length; offset += 65536) {
        globalThis.crypto.getRandomValues(bytes.subarray(offset, Math.min(bytes.length, offset + 65536)));
      }
    },
    nextUint32: word,
    nextFloat: () => floatFromTwoWords(word(), word()),
  };
}

/**
 * A deterministic generator (xoshiro128**, seeded through splitmix32) for tests and
 * simulations only. Not cryptographically secure.
 */
export function seededRandomSource(seed: number): RandomSource {
  if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${seed}`);
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const word = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  return {
    kind: 'seeded',
    fillBytes(bytes) {
      for (let i = 0; i < bytes.length; i += 4) {
        let w = word();
        for (let j = 0; j < 4 && i + j < bytes.length; j++) {
          bytes[i + j] = w & 0xff;
          w >>>= 8;
        }
      }
    },
    nextUint32: word,
    nextFloat: () => floatFromTwoWords(word(), word()),
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A uniform integer in [0, n) without modulo bias. */
export function randomInt(random: RandomSource, n: number): number {
  if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new RangeError(`n must be an integer in [1, 2^32], got ${n}`);
  const limit = TWO_POW_32 - (TWO_POW_32 % n);
  for (;;) {
    const x = random.nextUint32();
    if (x < limit) return x % n;
  }
}

/** Picks `k` distinct items uniformly at random (partial Fisher–Yates); does not mutate `items`. */
export function sampleWithoutReplacement<T>(random: RandomSource, items: readonly T[], k: number): T[] {
  if (!Number.isInteger(k) || k < 0 || k > items.length) {
    throw new RangeError(`cannot sample ${k} of ${items.length} items`);
  }
  const pool = items.slice();
  for (let i = 0; i < k; i++) {
    const j = i + randomInt(random, pool.length - i);
    const tmp = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = tmp;
  }
  return pool.slice(0, k);
}

/** Shuffles a copy of `items`. */
export function shuffled<T>(random: RandomSource, items: readonly T[]): T[] {
  return sampleWithoutReplacement(random, items, items.length);
}
