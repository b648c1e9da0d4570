/**
 * @fedkit/privacy/secagg: secure aggregation (SecAgg+, Bell et al. 2020, with SecAgg,
 * Bonawitz et al. 2017, as its full-graph case) as pure TypeScript. The crypto lives in
 * tiny modules with known-answer tests (Shamir, X25519 key agreement, AES-CTR mask PRG,
 * quantization); the protocol is two explicit state machines whose handlers take a message
 * and return the messages to send. Sockets, deadlines and id mapping belong to the server
 * and client packages.
 */
export { createSecAggClient, clientHandleSetup, clientHandleShareKeys, clientHandleCollectMasked, clientHandleUnmask } from './client-state.js';
export type { SecAggClientState, SecAggClientStage, SecAggInput } from './client-state.js';
export { createSecAggServer, serverAwaiting, serverHandleReply, serverHandleMaskedSum, serverCloseSetup, serverCloseShareKeys, serverCloseCollectMasked } from './server-state.js';
export type { SecAggServerState, SecAggServerStage, SecAggServerOptions, SecAggMaskedSum } from './server-state.js';
export { addMaskedInput, emptyMaskedSum, maskedWords } from './masked-sum.js';
export { bytesToWords, wordsToBytes } from './bytes.js';
export { serverFinish, type SecAggResult } from './server-unmask.js';
export { resolveSecAggParams, validateSecAggParams, MAX_VECTOR_LENGTH, type SecAggOptions } from './config.js';
export { parseSecAggReply, parseSecAggRequest } from './message-guards.js';
export type * from './messages.js';
export { SECAGG_ERROR_CODES, type SecAggErrorCode } from './errors.js';
export { buildNeighbourGraph, neighbourGraphDegree, GRAPH_SEED_BYTES, type NeighbourGraph } from './graph.js';
export { splitSecret, combineShares, decodeShare, shareLength, SHAMIR_PRIME, MAX_SHARE_X } from './shamir.js';
export { generateX25519KeyPair, x25519, x25519PublicKey, deriveSeed, pairwiseMaskSeed, shareBoxKey, type X25519KeyPair } from './key-agreement.js';
export { expandMask, aes256CtrEncrypt } from './mask-prg.js';
export {
  DEFAULT_QUANTIZATION, decodeWeightedSum, encodeWeightedUpdate, quantizeWeight, stochasticQuantize, validateQuantization,
  type DecodedSum, type OutOfRangePolicy, type QuantizationParams, type QuantizedWeight,
} from './quantize.js';
