/** Sends the global weights to the clients of a train or evaluate phase, chunked. */
import { encodeFloat32, splitTransfer } from '@fedkit/protocol';
import type { ClientInfo } from '../client-registry.js';
import type { ClientConnection } from '../connection.js';
import type { RoundPhase } from '../round-phase.js';
import type { SyncContext } from './sync-context.js';

/**
 * Sends the global weights as one chunked transfer (encoded once) to each selected client,
 * then the request that uses them; a client already gone fails the phase. Returns the
 * payload bytes sent.
 */
export function sendGlobalWeights(
  ctx: Pick<SyncContext, 'options' | 'checksum' | 'connections' | 'model'>,
  selected: readonly ClientInfo[],
  phase: RoundPhase,
  tag: string,
  request: (connection: ClientConnection, transferId: string) => void,
): number {
  const transferId = `w-${tag}`;
  const chunks = splitTransfer(transferId, encodeFloat32(ctx.model.weights), ctx.options.transfer.maxChunkBytes, ctx.checksum);
  let bytes = 0;
  for (const client of selected) {
    const connection = ctx.connections.get(client.clientId);
    if (connection === undefined) {
      phase.markFailed(client.clientId, 'client-disconnected', `the client left before the ${phase.kind} request was sent`);
      continue;
    }
    for (const chunk of chunks) connection.socket.emit('chunk', chunk);
    bytes += encodedBytes(chunks);
    request(connection, transferId);
  }
  return bytes;
}

/** Chunk payload bytes of a transfer. */
function encodedBytes(chunks: readonly { data: Uint8Array }[]): number {
  let n = 0;
  for (const c of chunks) n += c.data.byteLength;
  return n;
}
