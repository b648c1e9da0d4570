/**
 * The main thread's side of the worker pool: it starts the workers, schedules training jobs
 * (first come, first served, each to a worker whose engine is free, so the load stays even
 * whoever was sampled) and replaces a worker that crashes. A crash fails the jobs that worker
 * was running and disconnects the clients it hosted: the server counts them as failed for
 * the round, and the replacement's clients rejoin before the next one.
 */
import { Worker } from 'node:worker_threads';
import type { JobOutcome, MainToWorker, SimWorkerData, TrainJob, WorkerToMain } from './worker-messages.js';

export interface PoolEvents {
  /** A job finished (for progress displays). */
  onJobDone?: (job: { round: number; clientIndex: number; ok: boolean }) => void;
  onLog?: (level: 'warn' | 'error', message: string) => void;
}

interface Slot {
  index: number;
  worker: Worker;
  data: SimWorkerData;
  /** Job the engine is running, or null when free. */
  running: TrainJob | null;
  alive: boolean;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: { job: TrainJob; origin: Slot }[] = [];
  /** jobId → the slot whose client asked for it. */
  private readonly origins = new Map<number, Slot>();
  private stopping = false;
  private readonly broadcasts: MainToWorker[] = [];
  /** Workers replaced after a crash. */
  replacements = 0;

  constructor(
    private readonly workerUrl: URL,
    private readonly events: PoolEvents = {},
  ) {}

  /** Starts one worker per entry of `data`. */
  start(data: SimWorkerData[]): void {
    for (const d of data) this.slots.push(this.spawn(d.workerIndex, d));
  }

  get size(): number {
    return this.slots.length;
  }

  private spawn(index: number, data: SimWorkerData): Slot {
    const worker = new Worker(this.workerUrl, { workerData: data });
    const slot: Slot = { index, worker, data, running: null, alive: true };
    worker.on('message', (message: WorkerToMain) => this.onMessage(slot, message));
    // A replacement hears what its predecessor was told (e.g. that churn has started).
    for (const message of this.broadcasts) worker.postMessage(message);
    worker.on('error', (error) => this.onCrash(slot, error.message));
    worker.on('exit', (code) => {
      if (slot.alive && !this.stopping) this.onCrash(slot, `exited with code ${code}`);
    });
    return slot;
  }

  private onMessage(slot: Slot, message: WorkerToMain): void {
    switch (message.kind) {
      case 'job':
        this.origins.set(message.job.jobId, slot);
        this.queue.push({ job: message.job, origin: slot });
        this.dispatch();
        break;
      case 'job-done': {
        const job = slot.running;
        slot.running = null;
        if (job !== null) this.events.onJobDone?.({ round: job.round, clientIndex: job.clientIndex, ok: message.outcome.ok });
        this.reply(message.jobId, message.outcome);
        this.dispatch();
        break;
      }
      case 'cancel': {
        // Only a job still queued is dropped; one already training finishes and is ignored.
        const queued = this.queue.findIndex((q) => q.job.jobId === message.jobId);
        if (queued >= 0) {
          this.queue.splice(queued, 1);
          this.reply(message.jobId, { ok: false, code: 'client-disconnected', message: 'the client went offline before its job ran' });
        }
        break;
      }
      case 'log':
        this.events.onLog?.(message.level, `worker ${slot.index}: ${message.message}`);
        break;
      case 'ready':
        break;
    }
  }

  private reply(jobId: number, outcome: JobOutcome): void {
    const origin = this.origins.get(jobId);
    this.origins.delete(jobId);
    if (origin === undefined || !origin.alive) return;
    const message: MainToWorker = { kind: 'result', jobId, outcome };
    origin.worker.postMessage(message, outcome.ok ? [outcome.update.buffer as ArrayBuffer] : []);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.alive || slot.running !== null) continue;
      const { job } = this.queue.shift()!;
      slot.running = job;
      const message: MainToWorker = { kind: 'run', job };
      slot.worker.postMessage(message, [job.weights.buffer as ArrayBuffer]);
    }
  }

  private onCrash(slot: Slot, why: string): void {
    if (!slot.alive) return;
    slot.alive = false;
    this.events.onLog?.('error', `simulation worker ${slot.index} crashed (${why}); replacing it`);
    void slot.worker.terminate();
    const lost = slot.running;
    slot.running = null;
    if (lost !== null) {
      this.reply(lost.jobId, { ok: false, code: 'training-failed', message: `simulation worker ${slot.index} crashed: ${why}` });
    }
    // Queued jobs of the crashed worker's own clients have nobody to answer to.
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.origin === slot) this.queue.splice(i, 1);
    if (this.stopping) return;
    this.replacements++;
    const position = this.slots.indexOf(slot);
    this.slots[position] = this.spawn(slot.index, { ...slot.data, crashAtRound: null });
    this.dispatch();
  }

  /** Sends `message` to every live worker (and remembers it for replacements of crashed ones). */
  broadcast(message: MainToWorker): void {
    this.broadcasts.push(message);
    for (const slot of this.slots) if (slot.alive) slot.worker.postMessage(message);
  }

  /** Tells every worker to stop its clients, then ends the threads. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots) if (slot.alive) slot.worker.postMessage({ kind: 'stop' } satisfies MainToWorker);
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
