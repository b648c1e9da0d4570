/**
 * One open collection phase of a round (training or evaluation): which clients were asked,
 * who has answered, who failed and why, and the deadline. It settles when every selected
 * client has either answered or failed, or when the deadline passes (the silent ones then
 * fail with `deadline-exceeded`). It does no I/O; the server feeds it events.
 */
import { FedkitError, type ErrorCode } from '@fedkit/protocol';
import type { ClientFailure } from './metrics.js';

export type PhaseKind = 'train' | 'evaluate';

export class RoundPhase {
  readonly startedAt = Date.now();
  readonly failures: ClientFailure[] = [];
  private readonly answered = new Set<string>();
  private readonly failed = new Set<string>();
  private readonly late = new Set<string>();
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private resolveDone!: () => void;
  /** Resolves once the phase is settled (all answered or failed, deadline, or closed). */
  readonly done: Promise<void>;

  constructor(
    readonly kind: PhaseKind,
    readonly round: number,
    readonly selected: ReadonlySet<string>,
    readonly deadlineMs: number,
    /**
     * Over-selection: close as soon as this many clients have answered; the still pending
     * ones become late (not failures) and their replies are refused with `late-reply`.
     * @default every selected client
     */
    readonly targetReplies: number = selected.size,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.timer = setTimeout(() => this.expire(), deadlineMs);
    this.settleIfComplete();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  get repliedCount(): number {
    return this.answered.size;
  }

  /** Clients cut off when the round closed on its first `targetReplies` answers. */
  get lateClients(): readonly string[] {
    return [...this.late];
  }

  /** The `late-reply` refusal for a reply to this phase from a client it cut off, else null. */
  lateReplyError(clientId: string, round: number): FedkitError | null {
    if (round !== this.round || !this.late.has(clientId)) return null;
    return new FedkitError(
      'late-reply',
      `${this.kind} round ${round} closed on its first ${this.targetReplies} replies (over-selection); this reply came late and was not folded`,
    );
  }

  /** Milliseconds until the deadline (0 when passed). */
  remainingMs(): number {
    return Math.max(0, this.startedAt + this.deadlineMs - Date.now());
  }

  /**
   * Throws the coded reason a reply from `clientId` for `round` cannot be accepted now:
   * `round-closed`, `round-not-open`, `not-selected` or `duplicate-update`.
   */
  checkCanReply(clientId: string, round: number): void {
    if (round !== this.round) {
      throw round < this.round
        ? new FedkitError('round-closed', `${this.kind} round ${round} is closed; round ${this.round} is open`)
        : new FedkitError('round-not-open', `${this.kind} round ${round} is not open; round ${this.round} is`);
    }
    const late = this.lateReplyError(clientId, round);
    if (late !== null) throw late;
    if (this.closed) throw new FedkitError('round-closed', `${this.kind} round ${round} is closed`);
    if (!this.selected.has(clientId)) {
      throw new FedkitError('not-selected', `client ${clientId} was not selected for ${this.kind} round ${round}`);
    }
    if (this.answered.has(clientId)) {
      throw new FedkitError('duplicate-update', `client ${clientId} already replied in ${this.kind} round ${round}`);
    }
    if (this.failed.has(clientId)) {
      throw new FedkitError('round-closed', `client ${clientId} already failed ${this.kind} round ${round}`);
    }
  }

  /** Whether `clientId` is selected and has neither answered nor failed. */
  isPending(clientId: string): boolean {
    return !this.closed && this.selected.has(clientId) && !this.answered.has(clientId) && !this.failed.has(clientId) && !this.late.has(clientId);
  }

  markAnswered(clientId: string): void {
    if (!this.isPending(clientId)) return;
    this.answered.add(clientId);
    if (this.answered.size >= this.targetReplies && this.answered.size + this.failed.size < this.selected.size) {
      for (const id of this.selected) if (this.isPending(id)) this.late.add(id);
      this.close();
      return;
    }
    this.settleIfComplete();
  }

  markFailed(clientId: string, code: ErrorCode, message: string): void {
    if (!this.isPending(clientId)) return;
    this.failed.add(clientId);
    this.failures.push({ clientId, code, message });
    this.settleIfComplete();
  }

  /** Closes the phase now; pending clients fail with `code`. */
  close(code: ErrorCode = 'round-closed', message = 'the round was closed'): void {
    if (this.closed) return;
    for (const clientId of this.selected) {
      if (this.isPending(clientId)) {
        this.failed.add(clientId);
        this.failures.push({ clientId, code, message });
      }
    }
    this.closed = true;
    clearTimeout(this.timer);
    this.resolveDone();
  }

  private expire(): void {
    this.close('deadline-exceeded', `no reply within the ${this.deadlineMs} ms deadline`);
  }

  private settleIfComplete(): void {
    if (this.answered.size + this.failed.size >= this.selected.size) this.close();
  }
}
