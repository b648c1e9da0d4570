/**
 * Federated evaluation of one published model version in async mode. There is no moment
 * when every client is idle, so the evaluation takes the next eligible clients (held-out
 * examples > 0) as they finish their train tasks, until `wanted` have been asked; it settles
 * when all asked clients have answered or failed, at the deadline, or when closed. The
 * `evaluate` request's `round` is the version. No I/O: the engine sends the requests.
 */
import { FedkitError, type ErrorCode, type EvaluateResultMessage } from '@fedkit/protocol';
import type { EvaluateReply } from '@fedkit/aggregation';
import type { ClientInfo } from '../client-registry.js';
import type { ClientFailure } from '../metrics.js';

export class VersionEvaluation {
  readonly replies: EvaluateReply[] = [];
  readonly failures: ClientFailure[] = [];
  private readonly asked = new Set<string>();
  private readonly pending = new Set<string>();
  private closed = false;
  private readonly timer: ReturnType<typeof setTimeout>;
  private resolveDone!: () => void;
  /** Resolves once settled. */
  readonly done: Promise<void>;

  constructor(
    readonly version: number,
    /** The version's weights (the model moves on while clients evaluate). */
    readonly weights: Float32Array,
    private readonly wanted: number,
    deadlineMs: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.timer = setTimeout(() => this.close('deadline-exceeded', `no evaluation reply within the ${deadlineMs} ms deadline`), deadlineMs);
    this.timer.unref?.();
  }

  /** Whether `client` should be asked to evaluate (rather than given a train task). */
  wants(client: ClientInfo): boolean {
    return !this.closed && this.asked.size < this.wanted && client.numEvalExamples > 0 && !this.asked.has(client.clientId);
  }

  /** Records that `clientId` was sent the evaluate request. */
  asking(clientId: string): void {
    this.asked.add(clientId);
    this.pending.add(clientId);
  }

  isPending(clientId: string): boolean {
    return this.pending.has(clientId);
  }

  /** Accepts a reply, or throws why it cannot be accepted. */
  answer(clientId: string, msg: EvaluateResultMessage): void {
    if (msg.round !== this.version) throw new FedkitError('round-closed', `evaluation of model version ${msg.round} is not open (version ${this.version} is)`);
    if (!this.pending.has(clientId)) {
      throw this.asked.has(clientId)
        ? new FedkitError('duplicate-update', `client ${clientId} already answered or failed the evaluation of version ${this.version}`)
        : new FedkitError('not-selected', `client ${clientId} was not asked to evaluate version ${this.version}`);
    }
    this.pending.delete(clientId);
    this.replies.push({ clientId, numExamples: msg.numExamples, loss: msg.loss, accuracy: msg.accuracy });
    this.settleIfComplete();
  }

  fail(clientId: string, code: ErrorCode, message: string): void {
    if (!this.pending.delete(clientId)) return;
    this.failures.push({ clientId, code, message });
    this.settleIfComplete();
  }

  /** Settles now; clients still pending fail with `code`. */
  close(code: ErrorCode = 'round-closed', message = 'the evaluation was closed'): void {
    if (this.closed) return;
    this.closed = true;
    for (const clientId of this.pending) this.failures.push({ clientId, code, message });
    this.pending.clear();
    clearTimeout(this.timer);
    this.resolveDone();
  }

  private settleIfComplete(): void {
    if (this.asked.size >= this.wanted && this.pending.size === 0) this.close();
  }
}
