/**
 * One training round under secure aggregation (SecAgg+), on top of the pure state machine in
 * @fedkit/privacy/secagg: maps client ids to secure-aggregation ids, sends each stage's
 * requests over the `secagg` event, feeds `secagg-reply` payloads (validated there) into the
 * state machine, and closes each stage when every awaited client has answered or its
 * deadline passes. A silent, refused or disconnected client is a drop-out; below the
 * threshold the round aborts with `secagg-too-few-clients` and no result.
 *
 * Kept apart from federation-server.ts so the round loop only branches here; the server
 * never sees an individual update, only the unmasked weighted mean this returns.
 */
import {
  FedkitError,
  packBinaryFields,
  unpackBinaryFields,
  type ErrorCode,
  type RandomSource,
  type SecAggReplyMessage,
  type SecAggRequestMessage,
} from '@fedkit/protocol';
import {
  createSecAggServer,
  serverAwaiting,
  serverCloseCollectMasked,
  serverCloseSetup,
  serverCloseShareKeys,
  serverFinish,
  serverHandleMaskedSum,
  serverHandleReply,
  validateSecAggParams,
  DEFAULT_QUANTIZATION,
  type SecAggParams,
  type SecAggRequest,
  type SecAggResult,
  type SecAggServerState,
  type SecAggStage,
} from '@fedkit/privacy/secagg';
import type { ClientFailure } from './metrics.js';

/** The server option `secureAggregation`, as validated by the config schema. */
export interface SecAggSettings {
  readonly enabled: boolean;
  readonly threshold?: number | undefined;
  readonly neighbourCount?: number | undefined;
  readonly quantization?:
    | {
        readonly clippingRange?: number | undefined;
        readonly quantizationRange?: number | undefined;
        readonly modulusBits?: number | undefined;
        readonly maxWeight?: number | undefined;
      }
    | undefined;
}

/**
 * Share of the round deadline each stage may take. Setup waits for local training (a client
 * answers it once its update is ready), so it gets most of the time.
 */
export const SECAGG_STAGE_DEADLINE_FRACTIONS: Readonly<Record<SecAggStage, number>> = Object.freeze({
  setup: 0.7,
  'share-keys': 0.1,
  'collect-masked': 0.1,
  unmask: 0.1,
});

/** The shortest stage deadline of a round (ms); in cluster mode each stage needs a few Redis polls. */
export function shortestStageDeadlineMs(roundDeadlineMs: number): number {
  return Math.min(...Object.values(SECAGG_STAGE_DEADLINE_FRACTIONS)) * roundDeadlineMs;
}

/** A majority of the holders for `clientCount` clients with `neighbourCount` neighbours each. */
function defaultThreshold(clientCount: number, neighbourCount: number): number {
  const holders = Math.min(clientCount - 1, neighbourCount) + 1;
  return Math.floor(holders / 2) + 1;
}

/** The round's parameters for `clientCount` sampled clients. Throws `config-invalid`. */
export function secAggParamsFor(settings: SecAggSettings, clientCount: number, vectorLength: number): SecAggParams {
  const neighbourCount = settings.neighbourCount ?? Math.max(1, clientCount - 1);
  const q = settings.quantization ?? {};
  const params: SecAggParams = {
    clippingRange: q.clippingRange ?? DEFAULT_QUANTIZATION.clippingRange,
    quantizationRange: q.quantizationRange ?? DEFAULT_QUANTIZATION.quantizationRange,
    modulusBits: q.modulusBits ?? DEFAULT_QUANTIZATION.modulusBits,
    maxWeight: q.maxWeight ?? DEFAULT_QUANTIZATION.maxWeight,
    threshold: settings.threshold ?? defaultThreshold(clientCount, neighbourCount),
    neighbourCount,
    vectorLength,
  };
  validateSecAggParams(params, clientCount);
  return params;
}

/**
 * Checks the option once at start-up for `minClients` sampled clients, naming the field.
 * Throws `FedkitError('config-invalid')`.
 */
export function validateSecAggSettings(settings: SecAggSettings, clientCount: number, vectorLength: number): void {
  try {
    secAggParamsFor(settings, clientCount, vectorLength);
  } catch (error) {
    const message = (error as Error).message;
    const field = /^(\w+)/.exec(message)?.[1] ?? '';
    const path = ['threshold', 'neighbourCount'].includes(field) ? field : ['clippingRange', 'quantizationRange', 'modulusBits', 'maxWeight'].includes(field) ? `quantization.${field}` : '';
    throw new FedkitError('config-invalid', `server options: field "secureAggregation${path === '' ? '' : `.${path}`}": ${message}`);
  }
}

export interface SecAggRoundOptions {
  readonly round: number;
  /** The sampled clients; they get secure-aggregation ids 1 … n in this order. */
  readonly clientIds: readonly string[];
  readonly params: SecAggParams;
  readonly roundDeadlineMs: number;
  readonly random: RandomSource;
  /** Sends one request; returns false when the client is no longer connected. */
  readonly send: (clientId: string, message: SecAggRequestMessage) => boolean;
  /** Called once a stage's requests are all handed to `send` (cluster mode writes them to Redis here). */
  readonly flush?: (stage: SecAggStage) => Promise<void>;
  /** Called when a stage has collected its replies, before it closes (cluster mode adds the processes' masked sums here). */
  readonly beforeClose?: (stage: SecAggStage) => Promise<void>;
}

/**
 * Where the client handlers send a client's `secagg-reply` and drop-outs: the round itself
 * in one process, or in cluster mode the process's relay to the coordinator
 * (cluster/secagg-relay.ts). A returned promise delays the acknowledgement until it settles.
 */
export interface SecAggReplySink {
  onReply(clientId: string, message: SecAggReplyMessage, takeTransfer: (transferId: string) => Uint8Array): void | Promise<void>;
  drop(clientId: string, code: ErrorCode, message: string): void;
}

const STAGE_OF_REQUEST: Record<SecAggRequest['kind'], SecAggStage> = {
  'secagg-setup': 'setup',
  'secagg-share-keys': 'share-keys',
  'secagg-collect-masked': 'collect-masked',
  'secagg-unmask': 'unmask',
};

export class SecAggRound implements SecAggReplySink {
  readonly failures: ClientFailure[] = [];
  private readonly idOf = new Map<string, number>();
  private readonly clientOf = new Map<number, string>();
  private readonly gone = new Set<number>();
  /** Clients whose reply to the current stage is in, though not yet in the state machine (see `settle`). */
  private readonly settled = new Set<number>();
  private state: SecAggServerState | null = null;
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(private readonly options: SecAggRoundOptions) {
    options.clientIds.forEach((clientId, i) => {
      this.idOf.set(clientId, i + 1);
      this.clientOf.set(i + 1, clientId);
    });
  }

  /** The stage now collecting replies, or null before setup and after the round. */
  get stage(): SecAggStage | null {
    const stage = this.state?.stage;
    return stage === undefined || stage === 'done' || stage === 'aborted' ? null : stage;
  }

  /**
   * Runs the four stages. Resolves to the unmasked weighted mean; rejects with
   * `secagg-too-few-clients` (or another coded error) when the round must abort.
   */
  async run(signal: AbortSignal): Promise<SecAggResult> {
    const { round, params, random } = this.options;
    const ids = [...this.clientOf.keys()];
    const { state, requests } = createSecAggServer({ round, clientIds: ids, ...params }, random);
    this.state = state;
    try {
      let next: readonly SecAggRequest[] = requests;
      for (const stage of ['setup', 'share-keys', 'collect-masked', 'unmask'] as const) {
        this.sendAll(stage, next);
        await this.options.flush?.(stage);
        await this.collect(stage, signal);
        if (signal.aborted) throw new FedkitError('server-shutting-down', 'the server is shutting down');
        await this.options.beforeClose?.(stage);
        this.failSilent(stage);
        if (stage === 'setup') next = serverCloseSetup(state);
        else if (stage === 'share-keys') next = serverCloseShareKeys(state);
        else if (stage === 'collect-masked') next = serverCloseCollectMasked(state);
      }
      return await serverFinish(state);
    } finally {
      this.closed = true;
    }
  }

  /**
   * Records one `secagg-reply`. `takeTransfer` hands over the masked words of a
   * `secagg-masked` payload. Throws a coded error (the client then counts as dropped).
   */
  onReply(clientId: string, message: SecAggReplyMessage, takeTransfer: (transferId: string) => Uint8Array): void {
    const state = this.state;
    const id = this.idOf.get(clientId);
    if (state === null || this.closed) throw new FedkitError('round-closed', `no secure-aggregation stage is open for round ${message.round}`);
    if (id === undefined) throw new FedkitError('not-selected', `client ${clientId} is not in secure-aggregation round ${this.options.round}`);
    if (this.gone.has(id)) throw new FedkitError('round-closed', `client ${clientId} already dropped out of secure-aggregation round ${this.options.round}`);
    if (message.round !== this.options.round) throw new FedkitError('round-closed', `secagg-reply for round ${message.round}, round ${this.options.round} is open`);
    if (message.stage !== state.stage) throw new FedkitError('secagg-stage-invalid', `secagg-reply for stage '${message.stage}' while in stage '${state.stage}'`);
    const payload = unpackBinaryFields(message.payload, message.data, 'secagg-reply') as Record<string, unknown> | null;
    if (typeof payload === 'object' && payload !== null && payload.from !== id) {
      throw new FedkitError('invalid-message', `secagg-reply: field "payload.from": client ${clientId} has secure-aggregation id ${id}, got ${String(payload.from)}`);
    }
    let reply: unknown = payload;
    if (message.stage === 'collect-masked' && payload !== null && typeof payload === 'object') {
      const { transferId, ...rest } = payload;
      if (typeof transferId !== 'string') throw new FedkitError('invalid-message', 'secagg-reply: field "payload.transferId": must be a string');
      reply = { ...rest, masked: takeTransfer(transferId) };
    }
    try {
      serverHandleReply(state, reply);
    } catch (error) {
      this.drop(clientId, error instanceof FedkitError ? error.code : 'invalid-message', (error as Error).message);
      throw error;
    }
    this.check();
  }

  /** Counts a client as dropped from here on (disconnected, failed training, refused reply). */
  drop(clientId: string, code: ErrorCode, message: string): void {
    const id = this.idOf.get(clientId);
    if (id === undefined || this.gone.has(id) || this.closed) return;
    this.gone.add(id);
    this.failures.push({ clientId, code, message: `secure aggregation${this.stage === null ? '' : ` (${this.stage})`}: ${message}` });
    this.check();
  }

  /**
   * Counts `clientId`'s reply to the current stage as in, though it reaches the state machine
   * only before the stage closes: a cluster process stored its masked input in its sum,
   * which `addMaskedSum` adds in `beforeClose`.
   */
  settle(clientId: string): void {
    const id = this.idOf.get(clientId);
    if (id === undefined || this.closed) return;
    this.settled.add(id);
    this.check();
  }

  /**
   * Adds a sum of several clients' masked inputs (one cluster process's) during
   * collect-masked. A refused sum drops its contributors and throws the coded error.
   */
  addMaskedSum(clientIds: readonly string[], masked: Uint8Array): void {
    const state = this.state;
    if (state === null || this.closed) throw new FedkitError('round-closed', `no secure-aggregation stage is open for round ${this.options.round}`);
    try {
      const contributors = clientIds.map((clientId) => {
        const id = this.idOf.get(clientId);
        if (id === undefined) throw new FedkitError('not-selected', `client ${clientId} is not in secure-aggregation round ${this.options.round}`);
        return id;
      });
      serverHandleMaskedSum(state, { round: this.options.round, contributors, masked });
    } catch (error) {
      const code = error instanceof FedkitError ? error.code : 'invalid-message';
      for (const clientId of clientIds) this.drop(clientId, code, `its process's masked sum was refused: ${(error as Error).message}`);
      throw error;
    }
  }

  /** Whether `clientId` takes part in this round. */
  has(clientId: string): boolean {
    return this.idOf.has(clientId);
  }

  private sendAll(stage: SecAggStage, requests: readonly SecAggRequest[]): void {
    this.settled.clear();
    for (const request of requests) {
      const clientId = this.clientOf.get(request.to)!;
      if (this.gone.has(request.to)) continue;
      if (STAGE_OF_REQUEST[request.kind] !== stage) throw new FedkitError('internal', `a ${request.kind} request in stage ${stage}`);
      if (!this.options.send(clientId, { round: this.options.round, stage, ...packBinaryFields(request) })) {
        this.drop(clientId, 'client-disconnected', 'the client left before the request was sent');
      }
    }
  }

  /** Resolves when every awaited client has answered or dropped, at the deadline, or on abort. */
  private collect(stage: SecAggStage, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const deadlineMs = Math.max(1, Math.round(this.options.roundDeadlineMs * SECAGG_STAGE_DEADLINE_FRACTIONS[stage]));
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(finish, deadlineMs);
      signal.addEventListener('abort', finish, { once: true });
      this.wake = finish;
      this.check();
    });
  }

  private check(): void {
    if (this.state === null || this.wake === null) return;
    if (serverAwaiting(this.state).every((id) => this.gone.has(id) || this.settled.has(id))) this.wake();
  }

  /** Marks the clients still awaited after a stage closed as drop-outs. */
  private failSilent(stage: SecAggStage): void {
    for (const id of serverAwaiting(this.state!)) {
      if (this.gone.has(id)) continue;
      this.gone.add(id);
      const deadlineMs = Math.round(this.options.roundDeadlineMs * SECAGG_STAGE_DEADLINE_FRACTIONS[stage]);
      this.failures.push({ clientId: this.clientOf.get(id)!, code: 'deadline-exceeded', message: `secure aggregation (${stage}): no reply within ${deadlineMs} ms` });
    }
  }
}
