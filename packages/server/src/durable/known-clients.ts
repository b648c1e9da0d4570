/**
 * Every client that has ever joined this federation (the live ClientRegistry only holds
 * the connected ones): id, platform, identity key, first and last join. Persisted with
 * each round so that a restarted server still knows its clients, and used by
 * authentication to pin a client id to the identity key it first enrolled with.
 */
import { FedkitError } from '@fedkit/protocol';
import type { ClientInfo } from '../client-registry.js';

export interface KnownClient {
  clientId: string;
  platform: ClientInfo['platform'];
  /** Base64 of the 32-byte Ed25519 identity key, when the client sent one. */
  identityPublicKey: string | null;
  firstJoinedAt: string;
  lastJoinedAt: string;
}

export class KnownClients {
  private readonly byId = new Map<string, KnownClient>();

  get size(): number {
    return this.byId.size;
  }

  get(clientId: string): KnownClient | undefined {
    return this.byId.get(clientId);
  }

  /** Records a join. */
  note(info: ClientInfo): void {
    const now = new Date(info.joinedAt).toISOString();
    const previous = this.byId.get(info.clientId);
    const key = info.identityPublicKey === undefined ? null : Buffer.from(info.identityPublicKey).toString('base64');
    this.byId.set(info.clientId, {
      clientId: info.clientId,
      platform: info.platform,
      identityPublicKey: key ?? previous?.identityPublicKey ?? null,
      firstJoinedAt: previous?.firstJoinedAt ?? now,
      lastJoinedAt: now,
    });
  }

  toJSON(): KnownClient[] {
    return [...this.byId.values()].map((c) => ({ ...c }));
  }

  /** Replaces the contents with persisted entries; throws `state-corrupt` on a bad one. */
  restore(entries: unknown): void {
    if (!Array.isArray(entries)) throw new FedkitError('state-corrupt', 'the persisted client registry is not a list');
    const restored = new Map<string, KnownClient>();
    for (const [i, e] of entries.entries()) {
      const c = e as Partial<KnownClient> | null;
      if (
        typeof c !== 'object' ||
        c === null ||
        typeof c.clientId !== 'string' ||
        typeof c.platform !== 'string' ||
        !(c.identityPublicKey === null || typeof c.identityPublicKey === 'string') ||
        typeof c.firstJoinedAt !== 'string' ||
        typeof c.lastJoinedAt !== 'string'
      ) {
        throw new FedkitError('state-corrupt', `the persisted client registry entry ${i} is malformed`);
      }
      restored.set(c.clientId, { ...(c as KnownClient) });
    }
    this.byId.clear();
    for (const [k, v] of restored) this.byId.set(k, v);
  }
}
