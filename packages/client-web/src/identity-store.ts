/**
 * The browser client's long-term identity (its Ed25519 key pair and client id), kept in
 * IndexedDB so a visitor who comes back is the same client: the server recognises the
 * identity key it registered and signed updates keep verifying. IndexedDB works in the
 * page and in workers alike. Where it is unavailable (some private modes) a fresh identity
 * is used for this session and `persisted` says so.
 */
import { createIdentityKeyPair, type IdentityKeyPair } from '@fedkit/privacy';
import { cryptoRandomSource, type RandomSource } from '@fedkit/protocol';

const DB_NAME = 'fedkit';
const STORE = 'identity';

export interface StoredIdentity {
  clientId: string;
  identity: IdentityKeyPair;
  /** True when the identity came from, or was written to, IndexedDB. */
  persisted: boolean;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function openDb(): Promise<IDBDatabase> {
  const req = indexedDB.open(DB_NAME, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(STORE);
  return request(req);
}

function randomId(random: RandomSource): string {
  const bytes = new Uint8Array(16);
  random.fillBytes(bytes);
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

interface Record_ {
  clientId: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/**
 * Loads the identity stored under `key`, or creates and stores one. `clientId` overrides the
 * stored id (the key pair is still the stored one).
 *
 * @example
 * const { clientId, identity } = await loadIdentity('default');
 */
export async function loadIdentity(key: string, options: { clientId?: string; random?: RandomSource } = {}): Promise<StoredIdentity> {
  const random = options.random ?? cryptoRandomSource();
  const fresh = (): Record_ => ({ clientId: options.clientId ?? randomId(random), ...createIdentityKeyPair(random) });
  if (typeof indexedDB === 'undefined') {
    const r = fresh();
    return { clientId: r.clientId, identity: { publicKey: r.publicKey, secretKey: r.secretKey }, persisted: false };
  }
  const db = await openDb();
  try {
    const stored = (await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(key))) as Record_ | undefined;
    let record = stored;
    if (record === undefined) {
      record = fresh();
      await request(db.transaction(STORE, 'readwrite').objectStore(STORE).put(record, key));
    }
    return {
      clientId: options.clientId ?? record.clientId,
      identity: { publicKey: new Uint8Array(record.publicKey), secretKey: new Uint8Array(record.secretKey) },
      persisted: true,
    };
  } finally {
    db.close();
  }
}
