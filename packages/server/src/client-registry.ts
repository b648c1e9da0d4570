/**
 * The clients connected and joined right now. A socket becomes a client when its `hello` is
 * accepted; it stops being one when it disconnects. A client id may only be connected once.
 */
import type { HelloMessage } from '@fedkit/protocol';
import { nextWakeup } from './wakeup.js';

export interface ClientInfo {
  clientId: string;
  socketId: string;
  numExamples: number;
  numEvalExamples: number;
  platform: HelloMessage['platform'];
  backend: string;
  backendReason?: string;
  joinedAt: number;
  /** The client's Ed25519 identity public key (32 bytes), when it sent one. */
  identityPublicKey?: Uint8Array;
  /** The round whose training or evaluation this client is busy with, or null when idle. */
  busyWith: string | null;
}

export class ClientRegistry {
  private readonly byId = new Map<string, ClientInfo>();
  private readonly waiters = new Set<() => void>();

  get size(): number {
    return this.byId.size;
  }

  get(clientId: string): ClientInfo | undefined {
    return this.byId.get(clientId);
  }

  has(clientId: string): boolean {
    return this.byId.has(clientId);
  }

  add(info: ClientInfo): void {
    this.byId.set(info.clientId, info);
    for (const wake of this.waiters) wake();
  }

  remove(clientId: string): void {
    this.byId.delete(clientId);
    for (const wake of this.waiters) wake();
  }

  all(): ClientInfo[] {
    return [...this.byId.values()];
  }

  /** Joined clients not busy with a round, in join order. */
  idle(): ClientInfo[] {
    return this.all().filter((c) => c.busyWith === null);
  }

  /** Resolves the next time a client joins or leaves (or `signal` aborts). */
  changed(signal: AbortSignal): Promise<void> {
    return nextWakeup(this.waiters, signal);
  }

  /** Counts by platform and backend, for status pages. */
  summary(): { total: number; byPlatform: Record<string, number>; byBackend: Record<string, number> } {
    const byPlatform: Record<string, number> = {};
    const byBackend: Record<string, number> = {};
    for (const c of this.byId.values()) {
      byPlatform[c.platform] = (byPlatform[c.platform] ?? 0) + 1;
      byBackend[c.backend] = (byBackend[c.backend] ?? 0) + 1;
    }
    return { total: this.byId.size, byPlatform, byBackend };
  }
}
