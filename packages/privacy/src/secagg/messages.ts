/**
 * The secure-aggregation messages, as plain objects with string `kind` tags (STYLE §3) and
 * binary fields as `Uint8Array`. Requests go from the server to one client (`to`); replies
 * go from one client to the server (`from`). Ids are the round's secure-aggregation ids
 * (1 … 65535, also the Shamir x coordinates), which the server maps to its own client ids.
 *
 * Stage by stage (Bonawitz et al. 2017, rounds 0–3):
 * - setup: `secagg-setup` → `secagg-keys` (two X25519 public keys: one for encrypting
 *   shares, one for pairwise masks);
 * - share-keys: `secagg-share-keys` (the neighbours' keys) → `secagg-shares` (one
 *   nacl.box ciphertext per neighbour holding its Shamir shares);
 * - collect-masked: `secagg-collect-masked` (the ciphertexts addressed to this client) →
 *   `secagg-masked` (the masked, quantized, weighted update);
 * - unmask: `secagg-unmask` (which neighbours survived, which dropped) →
 *   `secagg-unmask-shares` (self-mask shares of survivors, mask-key shares of the dropped).
 */
import type { QuantizationParams } from './quantize.js';

export type SecAggStage = 'setup' | 'share-keys' | 'collect-masked' | 'unmask';

/** Everything a client must know to take part, announced by the server in setup. */
export interface SecAggParams extends QuantizationParams {
  /** Shares needed to rebuild a secret; must be a majority of each client's share holders. */
  readonly threshold: number;
  /** Neighbours per client (SecAgg+'s k); `clientIds.length − 1` or more is plain SecAgg. */
  readonly neighbourCount: number;
  /** Floats in the update (the masked vector has one more word: the weight). */
  readonly vectorLength: number;
}

export interface SecAggSetupRequest {
  readonly kind: 'secagg-setup';
  readonly round: number;
  readonly to: number;
  /** Every sampled client's id: with `graphSeed`, enough to rebuild the neighbour graph. */
  readonly clientIds: readonly number[];
  readonly graphSeed: Uint8Array;
  readonly params: SecAggParams;
}

export interface SecAggKeysMessage {
  readonly kind: 'secagg-keys';
  readonly round: number;
  readonly from: number;
  /** Key for nacl.box between neighbours (never revealed). */
  readonly cipherPublicKey: Uint8Array;
  /** Key for pairwise masks (its secret is Shamir-shared, revealed if the client drops). */
  readonly maskPublicKey: Uint8Array;
}

export interface PeerKeys {
  readonly id: number;
  readonly cipherPublicKey: Uint8Array;
  readonly maskPublicKey: Uint8Array;
}

export interface SecAggShareKeysRequest {
  readonly kind: 'secagg-share-keys';
  readonly round: number;
  readonly to: number;
  /** The keys of the recipient's neighbours that advertised, and its own. */
  readonly peers: readonly PeerKeys[];
}

export interface SecAggSharesMessage {
  readonly kind: 'secagg-shares';
  readonly round: number;
  readonly from: number;
  readonly shares: readonly { readonly to: number; readonly ciphertext: Uint8Array }[];
}

/** A ciphertext the server forwards unchanged, with its sender's addressing. */
export interface RoutedShare {
  readonly from: number;
  readonly to: number;
  readonly ciphertext: Uint8Array;
}

export interface SecAggCollectMaskedRequest {
  readonly kind: 'secagg-collect-masked';
  readonly round: number;
  readonly to: number;
  readonly shares: readonly RoutedShare[];
}

export interface SecAggMaskedMessage {
  readonly kind: 'secagg-masked';
  readonly round: number;
  readonly from: number;
  /** `vectorLength + 1` little-endian uint32 words, each < 2^modulusBits. */
  readonly masked: Uint8Array;
}

export interface SecAggUnmaskRequest {
  readonly kind: 'secagg-unmask';
  readonly round: number;
  readonly to: number;
  /** Share owners (neighbours or the recipient) whose masked input arrived. */
  readonly survivors: readonly number[];
  /** Share owners that shared keys but sent no masked input. */
  readonly dropped: readonly number[];
}

export interface RevealedShare {
  readonly owner: number;
  readonly share: Uint8Array;
}

export interface SecAggUnmaskMessage {
  readonly kind: 'secagg-unmask-shares';
  readonly round: number;
  readonly from: number;
  readonly selfMaskShares: readonly RevealedShare[];
  readonly maskKeyShares: readonly RevealedShare[];
}

/** Server → client. */
export type SecAggRequest = SecAggSetupRequest | SecAggShareKeysRequest | SecAggCollectMaskedRequest | SecAggUnmaskRequest;
/** Client → server. */
export type SecAggReply = SecAggKeysMessage | SecAggSharesMessage | SecAggMaskedMessage | SecAggUnmaskMessage;
