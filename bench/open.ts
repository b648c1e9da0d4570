/**
 * Update-envelope throughput: sealing with tweetnacl (what clients run), opening with
 * tweetnacl (`openUpdate`) and opening with the server's fast opener (node:crypto SHA-512
 * and Ed25519, libsodium nacl.box), for 4 MiB updates, in one run with interleaved
 * repetitions and medians (the machine is shared and moves ±30% between runs).
 *
 * The fast opener's time is split into its parts (SHA-512 of the ciphertext, Ed25519
 * verification, libsodium box open) measured alone on the same envelope, and node:crypto's
 * ChaCha20-Poly1305 decryption of the same bytes is printed as the ceiling of an AEAD that
 * is *not* nacl.box (OpenSSL has no XSalsa20), to show what a protocol change would buy.
 *
 *     npx tsc -b packages/privacy packages/server && npx tsx bench/open.ts [--reps 7]
 *
 * MB/s are 10^6 bytes of update (plaintext) per second. The last line printed is one JSON
 * object for tooling.
 */
import { createCipheriv, createDecipheriv, createHash, createPublicKey, verify } from 'node:crypto';
import { seededRandomSource } from '@fedkit/protocol';
// Relative imports until the root package lists @fedkit/privacy and @fedkit/server exports
// the opener; run `tsc -b` first (both resolve to the built dist).
import {
  createIdentityKeyPair,
  createRoundKeyring,
  createSeenNonces,
  openUpdate,
  sealUpdate,
  updateTranscript,
  type UpdateEnvelope,
} from '../packages/privacy/dist/crypto/index.js';
import { createFastUpdateOpener } from '../packages/server/dist/update-opener.js';

const PAYLOAD_BYTES = 4 * 1024 * 1024;
const ROUND = 1;
const CLIENT = 'bench-client';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1]! : fallback;
}
const reps = Number(argument('reps', '7'));
if (!Number.isInteger(reps) || reps < 1) throw new RangeError(`--reps must be a positive integer, got ${reps}`);

const random = seededRandomSource(2026);
const keyring = createRoundKeyring(ROUND, random);
const identity = createIdentityKeyPair(random);
const update = new Uint8Array(PAYLOAD_BYTES);
random.fillBytes(update);
const seal = (): UpdateEnvelope => sealUpdate(update, { round: ROUND, clientId: CLIENT, serverRoundKey: keyring.publicKey, identity, random });
const options = () => ({ round: ROUND, expectedClientId: CLIENT, clientIdentityKey: identity.publicKey, keyring, seenNonces: createSeenNonces(ROUND) });
const fast = await createFastUpdateOpener();

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;
const time = (fn: () => unknown): number => {
  const start = performance.now();
  fn();
  return performance.now() - start;
};
const mbps = (ms: number): number => PAYLOAD_BYTES / 1e6 / (ms / 1000);
const FAST_PER_REP = 5;

// Parts of the fast opener, and the non-nacl AEAD for comparison, on one envelope.
const envelope = seal();
const primitives = fast.primitives;
const transcript = updateTranscript({ ...envelope, serverRoundKey: keyring.publicKey, ciphertextDigest: primitives.sha512(envelope.ciphertext) });
const sharedKey = keyring.withSecretKey((secretKey) => primitives.boxSharedKey(envelope.clientBoxPublicKey, secretKey)!);
const aeadKey = new Uint8Array(32).fill(7);
const aeadNonce = new Uint8Array(12).fill(1);
const chacha = createCipheriv('chacha20-poly1305', aeadKey, aeadNonce, { authTagLength: 16 });
const chachaCiphertext = Buffer.concat([chacha.update(update), chacha.final()]);
const chachaTag = chacha.getAuthTag();
const parts = {
  sha512: () => createHash('sha512').update(envelope.ciphertext).digest(),
  verify: () => verify(null, transcript, createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), identity.publicKey]), format: 'der', type: 'spki' }), envelope.signature),
  boxOpen: () => primitives.boxOpenAfter(envelope.ciphertext, envelope.nonce, sharedKey),
  chacha20poly1305: () => {
    const decipher = createDecipheriv('chacha20-poly1305', aeadKey, aeadNonce, { authTagLength: 16 });
    decipher.setAuthTag(chachaTag);
    decipher.update(chachaCiphertext);
    decipher.final();
  },
};

// Warm-up: one of each, so JIT and libsodium's heap growth are out of the timed runs.
fast.open(seal(), options());
openUpdate(seal(), options());
for (const part of Object.values(parts)) part();

const samples = { seal: [] as number[], tweetnacl: [] as number[], fast: [] as number[], sha512: [] as number[], verify: [] as number[], boxOpen: [] as number[], chacha20poly1305: [] as number[] };
for (let rep = 0; rep < reps; rep++) {
  let sealed: UpdateEnvelope | undefined;
  samples.seal.push(time(() => (sealed = seal())));
  samples.tweetnacl.push(time(() => openUpdate(sealed, options())));
  for (let i = 0; i < FAST_PER_REP; i++) {
    const fresh = options();
    samples.fast.push(time(() => fast.open(sealed, fresh)));
    for (const [name, part] of Object.entries(parts)) samples[name as keyof typeof parts].push(time(part));
  }
}

const fmt = (x: number): string => x.toFixed(0);
const result = {
  sealMBps: mbps(median(samples.seal)),
  tweetnaclMBps: mbps(median(samples.tweetnacl)),
  fastMBps: mbps(median(samples.fast)),
};
console.log(`update envelopes, ${PAYLOAD_BYTES} bytes, ${reps} reps (${reps * FAST_PER_REP} for the fast opener), medians:`);
console.log(`  seal (tweetnacl box + nacl.hash + sign):        ${fmt(median(samples.seal))} ms → ${fmt(result.sealMBps)} MB/s`);
console.log(`  open, tweetnacl:                                ${fmt(median(samples.tweetnacl))} ms → ${fmt(result.tweetnaclMBps)} MB/s`);
console.log(`  open, fast (node:crypto + libsodium):           ${fmt(median(samples.fast))} ms → ${fmt(result.fastMBps)} MB/s (${(result.fastMBps / result.tweetnaclMBps).toFixed(1)}x tweetnacl)`);
console.log(`    of which SHA-512 of the ciphertext (node):     ${median(samples.sha512).toFixed(1)} ms → ${fmt(mbps(median(samples.sha512)))} MB/s`);
console.log(`    of which Ed25519 verify (node, key import):    ${median(samples.verify).toFixed(2)} ms`);
console.log(`    of which box open (libsodium, after beforenm): ${median(samples.boxOpen).toFixed(1)} ms → ${fmt(mbps(median(samples.boxOpen)))} MB/s`);
console.log(`  for comparison, not nacl.box: node ChaCha20-Poly1305 decrypt ${median(samples.chacha20poly1305).toFixed(1)} ms → ${fmt(mbps(median(samples.chacha20poly1305)))} MB/s`);
console.log(
  JSON.stringify({
    bench: 'open',
    payloadBytes: PAYLOAD_BYTES,
    tweetnaclMBps: Math.round(result.tweetnaclMBps),
    fastMBps: Math.round(result.fastMBps),
    sealMBps: Math.round(result.sealMBps),
    fastSha512MBps: Math.round(mbps(median(samples.sha512))),
    fastBoxOpenMBps: Math.round(mbps(median(samples.boxOpen))),
    chacha20Poly1305MBps: Math.round(mbps(median(samples.chacha20poly1305))),
  }),
);
