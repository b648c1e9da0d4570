/**
 * `@fedkit/privacy/crypto`: end-to-end encryption of client updates. Clients box each update
 * to the round's ephemeral server key and sign it with their long-term Ed25519 identity
 * (`sealUpdate`, tweetnacl only); the server checks round, sender, signature and nonce
 * before it decrypts (`openUpdate` here, the fast opener in `@fedkit/server`).
 */
export {
  BOX_OVERHEAD_BYTES,
  BOX_PUBLIC_KEY_BYTES,
  BOX_SECRET_KEY_BYTES,
  IDENTITY_PUBLIC_KEY_BYTES,
  IDENTITY_SECRET_KEY_BYTES,
  MAX_CLIENT_ID_BYTES,
  NONCE_BYTES,
  SIGNATURE_BYTES,
  checkEnvelopeShape,
  type UpdateEnvelope,
} from './envelope.js';
export { isCanonicalScalar, strictSignatureProblem, weakPointReason } from './ed25519-strict.js';
export { UPDATE_REJECTION_CODES, rejectUpdate, updateRejectionOf, type UpdateRejection } from './errors.js';
export { openUpdateWith, type OpenUpdateOptions, type OpenUpdatePrimitives } from './open-update-core.js';
export { TWEETNACL_PRIMITIVES, openUpdate } from './open-update.js';
export { createRoundKeyring, type RoundKeyring } from './round-keyring.js';
export { createIdentityKeyPair, sealUpdate, type IdentityKeyPair, type SealUpdateOptions } from './seal-update.js';
export { createSeenNonces, type SeenNonces } from './seen-nonces.js';
export { CIPHERTEXT_DIGEST_BYTES, UPDATE_TRANSCRIPT_DOMAIN, updateTranscript, type UpdateTranscriptFields } from './update-transcript.js';
export { signHello } from './hello-signature.js';
