/**
 * Helpers for tests of the operator surface (admin API, dashboard, /metrics): a trainer the
 * test can hold at chosen rounds, and small HTTP calls against a running server.
 */
import type { LocalTrainer } from '@fedkit/client-core';
import { constantTrainer } from './federation.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface Gate {
  /** Resolves once a client's training for the gated round has started. */
  entered: Promise<void>;
  /** Resolves once the test releases the gate. */
  opened: Promise<void>;
  enter(): void;
  release(): void;
}

/**
 * A constant trainer (update = `value`) whose training blocks at the rounds in `gates` until
 * the test releases that gate; every other round trains at once. Evaluation reports an
 * accuracy that rises and a loss that falls with the round, so charts have a shape.
 */
export function gatedTrainer(value: number, gates: Map<number, Gate>, numEvalExamples = 5): LocalTrainer & { rounds: number[] } {
  const inner = constantTrainer(value, 10, numEvalExamples);
  return {
    ...inner,
    rounds: inner.rounds,
    async train(global, config, context) {
      const gate = gates.get(context.round);
      if (gate !== undefined) {
        gate.enter();
        await gate.opened;
      }
      return inner.train(global, config, context);
    },
    async evaluate(_global, _config, { round }) {
      return { loss: 2 / (round + 1), accuracy: 1 - 0.5 / (round + 1), numExamples: numEvalExamples };
    },
  };
}

export function createGate(): Gate {
  let enter!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const opened = new Promise<void>((resolve) => (release = resolve));
  return { entered, opened, enter: () => enter(), release: () => release() };
}

/** POSTs an admin action; `token` null sends no Authorization header. */
export async function admin(url: string, action: string, token: string | null = ADMIN_TOKEN): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${url}/api/admin/${action}`, {
    method: 'POST',
    headers: token === null ? {} : { Authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}
