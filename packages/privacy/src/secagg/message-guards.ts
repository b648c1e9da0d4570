/**
 * Runtime guards for the secure-aggregation messages (STYLE §2: types are not validation).
 * Each handler runs the guard for the message it expects, so a malformed payload from the
 * wire becomes `FedkitError('invalid-message')` naming the bad field, before any state changes.
 */
import type {
  PeerKeys,
  RevealedShare,
  RoutedShare,
  SecAggParams,
  SecAggReply,
  SecAggRequest,
} from './messages.js';
import { secAggError } from './errors.js';
import { MAX_SHARE_X } from './shamir.js';

type Fields = Record<string, unknown>;

function fail(message: string): never {
  throw secAggError('invalid-message', message);
}

function record(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} must be an object`);
  return value as Fields;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) fail(`${what} must be an array`);
  return value;
}

/** socket.io hands binary over as Buffer in Node and as ArrayBuffer in browsers: take both. */
function bytes(value: unknown, what: string): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (!(value instanceof Uint8Array)) fail(`${what} must be a Uint8Array`);
  return value;
}

function num(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${what} must be a finite number, got ${String(value)}`);
  return value;
}

/** A secure-aggregation id: an integer in [1, 65535]. */
export function parseId(value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_SHARE_X) {
    fail(`${what} must be an integer in [1, ${MAX_SHARE_X}], got ${String(value)}`);
  }
  return value as number;
}

function round(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffffffff) fail(`round must be a uint32, got ${String(value)}`);
  return value as number;
}

function ids(value: unknown, what: string): number[] {
  const out = list(value, what).map((id, i) => parseId(id, `${what}[${i}]`));
  if (new Set(out).size !== out.length) fail(`${what} lists an id twice`);
  return out;
}

function params(value: unknown): SecAggParams {
  const p = record(value, 'params');
  const names = ['threshold', 'neighbourCount', 'vectorLength', 'clippingRange', 'quantizationRange', 'modulusBits', 'maxWeight'] as const;
  const out = Object.fromEntries(names.map((name) => [name, num(p[name], `params.${name}`)]));
  return out as unknown as SecAggParams;
}

function peer(value: unknown, what: string): PeerKeys {
  const p = record(value, what);
  return { id: parseId(p.id, `${what}.id`), cipherPublicKey: bytes(p.cipherPublicKey, `${what}.cipherPublicKey`), maskPublicKey: bytes(p.maskPublicKey, `${what}.maskPublicKey`) };
}

function routed(value: unknown, what: string): RoutedShare {
  const p = record(value, what);
  return { from: parseId(p.from, `${what}.from`), to: parseId(p.to, `${what}.to`), ciphertext: bytes(p.ciphertext, `${what}.ciphertext`) };
}

function revealed(value: unknown, what: string): RevealedShare {
  const p = record(value, what);
  return { owner: parseId(p.owner, `${what}.owner`), share: bytes(p.share, `${what}.share`) };
}

/** Checks a server → client message; returns a clean copy with only the known fields. */
export function parseSecAggRequest(value: unknown): SecAggRequest {
  const m = record(value, 'message');
  const base = { round: round(m.round), to: parseId(m.to, 'to') };
  switch (m.kind) {
    case 'secagg-setup':
      return { kind: m.kind, ...base, clientIds: ids(m.clientIds, 'clientIds'), graphSeed: bytes(m.graphSeed, 'graphSeed'), params: params(m.params) };
    case 'secagg-share-keys':
      return { kind: m.kind, ...base, peers: list(m.peers, 'peers').map((p, i) => peer(p, `peers[${i}]`)) };
    case 'secagg-collect-masked':
      return { kind: m.kind, ...base, shares: list(m.shares, 'shares').map((s, i) => routed(s, `shares[${i}]`)) };
    case 'secagg-unmask':
      return { kind: m.kind, ...base, survivors: ids(m.survivors, 'survivors'), dropped: ids(m.dropped, 'dropped') };
    default:
      return fail(`unknown secure-aggregation request kind ${JSON.stringify(m.kind)}`);
  }
}

/** Checks a client → server message; returns a clean copy with only the known fields. */
export function parseSecAggReply(value: unknown): SecAggReply {
  const m = record(value, 'message');
  const base = { round: round(m.round), from: parseId(m.from, 'from') };
  switch (m.kind) {
    case 'secagg-keys':
      return { kind: m.kind, ...base, cipherPublicKey: bytes(m.cipherPublicKey, 'cipherPublicKey'), maskPublicKey: bytes(m.maskPublicKey, 'maskPublicKey') };
    case 'secagg-shares':
      return {
        kind: m.kind,
        ...base,
        shares: list(m.shares, 'shares').map((s, i) => {
          const p = record(s, `shares[${i}]`);
          return { to: parseId(p.to, `shares[${i}].to`), ciphertext: bytes(p.ciphertext, `shares[${i}].ciphertext`) };
        }),
      };
    case 'secagg-masked':
      return { kind: m.kind, ...base, masked: bytes(m.masked, 'masked') };
    case 'secagg-unmask-shares':
      return {
        kind: m.kind,
        ...base,
        selfMaskShares: list(m.selfMaskShares, 'selfMaskShares').map((s, i) => revealed(s, `selfMaskShares[${i}]`)),
        maskKeyShares: list(m.maskKeyShares, 'maskKeyShares').map((s, i) => revealed(s, `maskKeyShares[${i}]`)),
      };
    default:
      return fail(`unknown secure-aggregation reply kind ${JSON.stringify(m.kind)}`);
  }
}
