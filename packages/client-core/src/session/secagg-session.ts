/**
 * The client's part in secure aggregation: one SecAgg+ client state machine per training
 * round (@fedkit/privacy/secagg), fed by the server's `secagg` requests. The update from
 * local training (after its DP mod) is not uploaded; it waits here as the round's input
 * and only leaves the client masked. Setup is answered once training has produced the
 * update, so a client that cannot train drops out before any share is dealt.
 */
import { FedkitError, unpackBinaryFields, type RandomSource, type SecAggRequestMessage } from '@fedkit/protocol';
import {
  clientHandleCollectMasked,
  clientHandleSetup,
  clientHandleShareKeys,
  clientHandleUnmask,
  createSecAggClient,
  type SecAggClientState,
  type SecAggCollectMaskedRequest,
  type SecAggInput,
  type SecAggReply,
  type SecAggSetupRequest,
  type SecAggShareKeysRequest,
  type SecAggUnmaskRequest,
} from '@fedkit/privacy/secagg';

interface RoundEntry {
  readonly input: Promise<SecAggInput>;
  readonly resolve: (input: SecAggInput) => void;
  readonly reject: (error: unknown) => void;
  state: SecAggClientState | null;
}

/** Rounds kept at once: the current one and a late straggler from the previous. */
const KEPT_ROUNDS = 2;

export class SecAggSession {
  private readonly rounds = new Map<number, RoundEntry>();

  constructor(private readonly random: RandomSource) {}

  /**
   * The input slot of `round`: training calls `resolve` with the trained update and its
   * weight, or `reject` when it failed. The train and setup requests may be handled in
   * either order, so whichever comes first opens the round.
   */
  begin(round: number): { resolve: (input: SecAggInput) => void; reject: (error: unknown) => void } {
    return this.entry(round);
  }

  private entry(round: number): RoundEntry {
    const existing = this.rounds.get(round);
    if (existing !== undefined) return existing;
    let resolve!: (input: SecAggInput) => void;
    let reject!: (error: unknown) => void;
    const input = new Promise<SecAggInput>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    input.catch(() => undefined);
    const entry: RoundEntry = { input, resolve, reject, state: null };
    this.rounds.set(round, entry);
    while (this.rounds.size > KEPT_ROUNDS) this.rounds.delete(this.rounds.keys().next().value!);
    return entry;
  }

  /** Answers one stage request. Throws a coded error when the request is refused. */
  async handle(message: SecAggRequestMessage): Promise<SecAggReply> {
    const entry = message.stage === 'setup' ? this.entry(message.round) : this.rounds.get(message.round);
    if (entry === undefined) throw new FedkitError('round-not-open', `secagg request for round ${message.round}, which this client is not training`);
    const request = unpackBinaryFields(message.payload, message.data, 'secagg');
    if (message.stage === 'setup') {
      const input = await entry.input;
      if (input.update.length === 0) throw new FedkitError('training-failed', 'no update to aggregate');
      entry.state = createSecAggClient();
      return clientHandleSetup(entry.state, request as SecAggSetupRequest, this.random);
    }
    const state = entry.state;
    if (state === null) throw new FedkitError('secagg-stage-invalid', `secagg '${message.stage}' request before setup in round ${message.round}`);
    switch (message.stage) {
      case 'share-keys':
        return clientHandleShareKeys(state, request as SecAggShareKeysRequest, this.random);
      case 'collect-masked': {
        const input = await entry.input;
        return (await clientHandleCollectMasked(state, request as SecAggCollectMaskedRequest, input, this.random)).message;
      }
      case 'unmask': {
        const reply = clientHandleUnmask(state, request as SecAggUnmaskRequest);
        this.rounds.delete(message.round);
        return reply;
      }
    }
  }
}
