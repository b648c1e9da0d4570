/**
 * Every Redis key and channel a cluster uses, in one place: `<keyPrefix>:<federationId>:…`.
 *
 * - `lock`: the coordinator lock (value: the holder's process id, with a TTL);
 * - `procs` (set) and `proc:<id>` (JSON, TTL): each live process and its connected clients;
 * - `state` (hash: `meta` JSON, `weights` float32 bytes, `seq`): the global model and round;
 * - `history` (list of JSON): the recorded rounds;
 * - `task` (JSON) and `open` (the id of the task accepting replies): the round in flight;
 * - `control` (JSON): the operator's pause / stop, shared (shared-control.ts);
 * - `partials:<task>` (hash: process id → encoded partial) and `events:<task>` (list of JSON):
 *   what each process folded and which of its clients answered or failed.
 */
export class ClusterKeys {
  readonly base: string;

  constructor(keyPrefix: string, federationId: string) {
    this.base = `${keyPrefix}:${federationId}`;
  }

  get lock(): string {
    return `${this.base}:lock`;
  }
  get procs(): string {
    return `${this.base}:procs`;
  }
  proc(processId: string): string {
    return `${this.base}:proc:${processId}`;
  }
  get state(): string {
    return `${this.base}:state`;
  }
  get history(): string {
    return `${this.base}:history`;
  }
  get control(): string {
    return `${this.base}:control`;
  }
  get task(): string {
    return `${this.base}:task`;
  }
  get open(): string {
    return `${this.base}:open`;
  }
  partials(taskId: string): string {
    return `${this.base}:partials:${taskId}`;
  }
  events(taskId: string): string {
    return `${this.base}:events:${taskId}`;
  }
  /** The socket.io redis adapter's channel prefix. */
  get adapter(): string {
    return `${this.base}:socket.io`;
  }
}
