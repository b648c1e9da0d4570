/**
 * A cluster process's part of a SecAgg+ round: its own sampled clients talk to it, the
 * state machine runs on the coordinator (cluster-secagg.ts). The relay reads the
 * coordinator's requests for its clients from its Redis inbox and emits them as `secagg`;
 * it checks each `secagg-reply` as far as it can without the state machine (round, stage,
 * sender id, message shape) and forwards it through Redis; it forwards drop-outs; and it adds
 * its clients' masked vectors into one sum mod 2^k, stored with the contributor list
 * (a PartialFlusher over `SecAggChannel.storeMasked`), acknowledging a masked input only once
 * the write that holds it succeeded. No individual update exists here: only masked vectors,
 * as the single-process server receives them, and their sum.
 */
import { FedkitError, unpackBinaryFields, type ErrorCode, type SecAggReplyMessage, type SecAggRequestMessage } from '@fedkit/protocol';
import { addMaskedInput, emptyMaskedSum, parseSecAggReply, type SecAggStage } from '@fedkit/privacy/secagg';
import type { ClientInfo } from '../client-registry.js';
import { RoundPhase } from '../round-phase.js';
import type { SecAggReplySink } from '../secagg-round.js';
import type { SyncContext } from '../sync/sync-context.js';
import type { ClusterLink } from './cluster-link.js';
import { delay } from './delay.js';
import { PartialFlusher } from './partial-flusher.js';
import type { ClusterTask, TaskEvent } from './round-task.js';
import { encodeMaskedSum, parseInbox, SecAggChannel, secAggKeyTtlMs, type Forwarded, type SecAggMeta } from './secagg-channel.js';

const REPLY_KIND: Record<SecAggStage, string> = { setup: 'secagg-keys', 'share-keys': 'secagg-shares', 'collect-masked': 'secagg-masked', unmask: 'secagg-unmask-shares' };

export class SecAggRelay implements SecAggReplySink {
  private readonly channel: SecAggChannel;
  private meta: SecAggMeta | null = null;
  /** Client → the stage of the last request relayed to it, and whether it answered that stage. */
  private readonly expecting = new Map<string, { stage: SecAggStage; answered: boolean }>();
  private readonly gone = new Set<string>();
  private sum: Uint32Array | null = null;
  private flusher: PartialFlusher | null = null;
  private readonly forwards = new Set<Promise<unknown>>();
  private inboxRead = 0;

  constructor(
    private readonly ctx: SyncContext,
    private readonly link: ClusterLink,
    private readonly task: ClusterTask,
    private readonly clients: ReadonlySet<string>,
  ) {
    this.channel = new SecAggChannel(link.redis, link.keys, task.id, secAggKeyTtlMs(ctx.options.roundDeadlineMs, ctx.options.cluster!.coordinatorLockTtlMs));
  }

  /**
   * Relays until `phase` closes (the coordinator closed the task, or every local client
   * failed), then stores what is left and waits for the forwards in flight.
   */
  async run(phase: RoundPhase, missing: TaskEvent['failed']): Promise<void> {
    const pollMs = this.ctx.options.cluster!.pollMs;
    try {
      this.meta = await this.channel.readMeta();
    } catch (error) {
      this.ctx.logger.error({ taskId: this.task.id, err: (error as Error).message }, 'secure aggregation: the round description in Redis is malformed');
    }
    for (const f of missing) this.drop(f.clientId, f.code, f.message);
    const meta = this.meta;
    if (meta === null) {
      for (const clientId of this.clients) this.drop(clientId, 'internal', 'its server process found no secure-aggregation round description in Redis');
    } else {
      const sum = emptyMaskedSum(meta);
      this.sum = sum;
      const store = {
        encode: (clients: readonly string[]) => encodeMaskedSum(clients, sum),
        write: (event: TaskEvent, bytes: Buffer | null) => this.channel.storeMasked(this.link.processId, bytes, event.answered),
      };
      this.flusher = new PartialFlusher(store, this.link.processId, this.task.id, this.ctx.logger, pollMs);
      while (phase.isOpen) {
        try {
          await this.pollInbox();
        } catch (error) {
          this.ctx.logger.debug({ taskId: this.task.id, err: (error as Error).message }, 'secure aggregation: cannot read the inbox (Redis unavailable?)');
        }
        await Promise.race([phase.done, delay(pollMs)]);
      }
    }
    await phase.done;
    await this.flusher?.close();
    this.sum?.fill(0);
    await Promise.allSettled([...this.forwards]);
  }

  onReply(clientId: string, message: SecAggReplyMessage, takeTransfer: (transferId: string) => Uint8Array): Promise<void> {
    const meta = this.meta;
    const expected = this.expecting.get(clientId);
    if (meta === null || expected === undefined) throw new FedkitError('round-not-open', `no secure-aggregation stage is open for client ${clientId}`);
    if (this.gone.has(clientId)) throw new FedkitError('round-closed', `client ${clientId} already dropped out of secure-aggregation round ${meta.round}`);
    if (message.round !== meta.round) throw new FedkitError('round-closed', `secagg-reply for round ${message.round}, round ${meta.round} is open`);
    if (message.stage !== expected.stage) throw new FedkitError('secagg-stage-invalid', `secagg-reply for stage '${message.stage}' while in stage '${expected.stage}'`);
    if (expected.answered) throw new FedkitError('duplicate-update', `client ${clientId} already answered stage '${expected.stage}'`);
    try {
      const payload = unpackBinaryFields(message.payload, message.data, 'secagg-reply') as Record<string, unknown> | null;
      const id = meta.ids[clientId];
      if (typeof payload !== 'object' || payload === null || payload.from !== id) {
        throw new FedkitError('invalid-message', `secagg-reply: field "payload.from": client ${clientId} has secure-aggregation id ${id}, got ${String(payload?.from)}`);
      }
      if (payload.kind !== REPLY_KIND[expected.stage]) throw new FedkitError('secagg-stage-invalid', `got '${String(payload.kind)}' while in stage '${expected.stage}'`);
      if (expected.stage !== 'collect-masked') {
        parseSecAggReply(payload);
        expected.answered = true;
        // A reply that cannot be forwarded (Redis away, task closed) makes its client a
        // drop-out, as a refused one does: the write may have landed before the error, so a
        // retry could duplicate it; the coordinator handles a drop-out at any stage.
        return this.forwardNow({ kind: 'reply', processId: this.link.processId, clientId, message }, true).catch((error: FedkitError) => {
          this.drop(clientId, error.code, `its reply to stage '${expected.stage}' could not be forwarded: ${error.message}`);
          throw error;
        });
      }
      const { transferId, ...rest } = payload;
      if (typeof transferId !== 'string') throw new FedkitError('invalid-message', 'secagg-reply: field "payload.transferId": must be a string');
      const reply = parseSecAggReply({ ...rest, masked: takeTransfer(transferId) });
      if (reply.kind !== 'secagg-masked') throw new FedkitError('secagg-stage-invalid', `got '${reply.kind}' while in stage 'collect-masked'`);
      addMaskedInput(this.sum!, reply.masked, meta, `client ${clientId}'s masked input`);
      expected.answered = true;
      return this.flusher!.folded(clientId);
    } catch (error) {
      const code = error instanceof FedkitError ? error.code : 'invalid-message';
      this.drop(clientId, code, (error as Error).message);
      throw error;
    }
  }

  /** Forwards a drop-out of one of this process's clients (once). */
  drop(clientId: string, code: ErrorCode, message: string): void {
    if (!this.clients.has(clientId) || this.gone.has(clientId)) return;
    this.gone.add(clientId);
    this.forwardNow({ kind: 'drop', processId: this.link.processId, clientId, code, message }, false).catch(() => undefined);
  }

  /** Emits the coordinator's new requests to this process's clients. */
  private async pollInbox(): Promise<void> {
    const lines = await this.channel.readInbox(this.link.processId, this.inboxRead);
    this.inboxRead += lines.length;
    for (const line of lines) {
      let request: { clientId: string; message: SecAggRequestMessage };
      try {
        request = parseInbox(line);
      } catch (error) {
        this.ctx.logger.warn({ taskId: this.task.id, err: (error as Error).message }, 'secure aggregation: refused a malformed request from the coordinator');
        continue;
      }
      const { clientId, message } = request;
      if (!this.clients.has(clientId) || this.gone.has(clientId)) continue;
      const connection = this.ctx.connections.get(clientId);
      if (connection === undefined) {
        this.drop(clientId, 'client-disconnected', 'the client left before the request was sent');
        continue;
      }
      this.expecting.set(clientId, { stage: message.stage, answered: false });
      connection.socket.emit('secagg', message);
    }
  }

  /** Forwards one line; resolves once stored. `strict`: a closed task or Redis error rejects (the client's ack says so). */
  private forwardNow(line: Forwarded, strict: boolean): Promise<void> {
    const write = this.channel.forward(line).then(
      (ok) => {
        if (!ok && strict) throw new FedkitError('round-closed', 'the round closed before this reply was forwarded');
      },
      (error: Error) => {
        this.ctx.logger.warn({ taskId: this.task.id, err: error.message }, 'secure aggregation: cannot forward to the coordinator (Redis unavailable?)');
        if (strict) throw new FedkitError('redis-unreachable', 'the reply could not be forwarded through Redis');
      },
    );
    this.forwards.add(write);
    void write.catch(() => undefined).finally(() => this.forwards.delete(write));
    return write;
  }
}

/**
 * Runs this process's part of a SecAgg+ training task: marks its clients busy, opens the
 * local phase (it gates replies, as in one process), sends the train request through
 * `sendTrain`, and relays until the coordinator closes the task. `release` runs when done.
 */
export function runSecureLocalRound(
  ctx: SyncContext,
  link: ClusterLink,
  task: ClusterTask,
  selected: readonly ClientInfo[],
  missing: TaskEvent['failed'],
  sendTrain: (phase: RoundPhase) => void,
  release: () => void,
): { phase: RoundPhase; finished: Promise<void> } {
  const tag = task.id;
  for (const client of selected) client.busyWith = tag;
  const ids = new Set(selected.map((c) => c.clientId));
  const phase = new RoundPhase('train', task.round, ids, Math.max(1, task.deadlineAt - Date.now()));
  const relay = new SecAggRelay(ctx, link, task, new Set([...ids, ...missing.map((m) => m.clientId)]));
  ctx.open.trainPhase = phase;
  ctx.open.lastTrainPhase = phase;
  ctx.open.secAggRound = relay;
  ctx.open.bytesIn = 0;
  ctx.setStage('training');
  sendTrain(phase);
  const cleanUp = (): void => {
    if (ctx.open.trainPhase === phase) ctx.open.trainPhase = null;
    if (ctx.open.secAggRound === relay) ctx.open.secAggRound = null;
    for (const client of selected) if (client.busyWith === tag) client.busyWith = null;
    release();
  };
  const finished = relay.run(phase, missing).then(
    () => {
      cleanUp();
      ctx.setStage('waiting-for-clients');
    },
    (error: unknown) => {
      cleanUp();
      ctx.logger.error({ err: error, taskId: task.id }, 'cluster secure-aggregation round failed locally');
    },
  );
  ctx.logger.info({ taskId: task.id, clients: selected.length }, 'cluster round: relaying secure aggregation for local clients');
  return { phase, finished };
}
