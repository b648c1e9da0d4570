/**
 * The train tasks an asynchronous server has sent and not yet settled. In async mode a
 * `train` request's `round` is a task number, unique for the server's life, and its
 * `modelVersion` is the version the client trains from; the reply names the task, so the
 * server knows which version the update was trained on whatever the client claims. Each
 * task has its own deadline. No I/O: the engine feeds it events.
 */
import { FedkitError } from '@fedkit/protocol';

export interface AsyncTask {
  /** The wire `round` of the train request and its reply. */
  readonly number: number;
  readonly clientId: string;
  /** The model version sent with the task (what the update is relative to). */
  readonly baseVersion: number;
  readonly sentAt: number;
}

type Settled = 'answered' | 'failed';

/** How many settled task numbers are remembered, to tell a duplicate from an unknown task. */
const REMEMBERED_SETTLED = 4096;

export class TaskTable {
  private issued = 0;
  private readonly open = new Map<number, { task: AsyncTask; timer: ReturnType<typeof setTimeout> }>();
  private readonly settled = new Map<number, { clientId: string; how: Settled }>();

  /** @param onExpire called when a task's deadline passes before it settled */
  constructor(
    private readonly deadlineMs: number,
    private readonly onExpire: (task: AsyncTask) => void,
  ) {}

  /** Tasks sent and not settled. */
  get inFlight(): number {
    return this.open.size;
  }

  /** The last task number issued (0 before the first). */
  get lastNumber(): number {
    return this.issued;
  }

  /** Opens a task for `clientId` on `baseVersion`. */
  begin(clientId: string, baseVersion: number): AsyncTask {
    const task: AsyncTask = { number: ++this.issued, clientId, baseVersion, sentAt: Date.now() };
    const timer = setTimeout(() => {
      if (this.settle(task, 'failed')) this.onExpire(task);
    }, this.deadlineMs);
    timer.unref?.();
    this.open.set(task.number, { task, timer });
    return task;
  }

  /**
   * The open task `number` of `clientId`, or the coded reason a reply for it cannot be
   * accepted: `round-not-open` (never issued), `not-selected` (another client's),
   * `duplicate-update` (already answered), `round-closed` (failed, expired or cancelled).
   */
  claim(clientId: string, number: number): AsyncTask {
    const entry = this.open.get(number);
    if (entry !== undefined) {
      if (entry.task.clientId !== clientId) throw new FedkitError('not-selected', `train task ${number} was sent to another client, not ${clientId}`);
      return entry.task;
    }
    if (number > this.issued) throw new FedkitError('round-not-open', `train task ${number} was never sent (the last task sent is ${this.issued})`);
    const done = this.settled.get(number);
    if (done !== undefined && done.clientId !== clientId) throw new FedkitError('not-selected', `train task ${number} was sent to another client, not ${clientId}`);
    if (done?.how === 'answered') throw new FedkitError('duplicate-update', `train task ${number} was already answered`);
    throw new FedkitError('round-closed', `train task ${number} is closed (it failed, passed its ${this.deadlineMs} ms deadline, or training ended)`);
  }

  /** Settles `task`; returns false when it was already settled. */
  settle(task: AsyncTask, how: Settled): boolean {
    const entry = this.open.get(task.number);
    if (entry === undefined) return false;
    clearTimeout(entry.timer);
    this.open.delete(task.number);
    this.settled.set(task.number, { clientId: task.clientId, how });
    if (this.settled.size > REMEMBERED_SETTLED) this.settled.delete(this.settled.keys().next().value!);
    return true;
  }

  /** The open tasks of `clientId` (at most one while the engine runs). */
  ofClient(clientId: string): AsyncTask[] {
    return [...this.open.values()].filter((e) => e.task.clientId === clientId).map((e) => e.task);
  }

  /** Settles every open task as failed (training ended); returns them. */
  cancelAll(): AsyncTask[] {
    const tasks = [...this.open.values()].map((e) => e.task);
    for (const task of tasks) this.settle(task, 'failed');
    return tasks;
  }
}
