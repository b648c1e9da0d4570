/**
 * Child process for tests/e2e/fault-killed-upload.test.ts: a client in its own process that
 * joins, waits for its train request, sends the first `sendChunks` chunks of its update
 * (each acknowledged by the server) and then stalls with the transfer incomplete and no
 * train-result sent, so that the test can SIGKILL it while the upload is in flight.
 *
 * It speaks the wire protocol by hand (socket.io-client, the protocol's codec) and imports
 * nothing from the test helpers: it runs outside vitest, under `node --import tsx`.
 * argv[2] is JSON `{ url, clientId, updateValue, chunkBytes, sendChunks }`; it tells the
 * parent `{ type: 'in-flight', round, sent, of }` over IPC once the chunks are acknowledged.
 */
import { io } from 'socket.io-client';
import { PROTOCOL_VERSION, encodeFloat32, splitTransfer, type AckReply, type ClientToServerEvents, type HelloReply, type ServerToClientEvents, type TrainMessage } from '@fedkit/protocol';
import type { Socket } from 'socket.io-client';

export interface StalledUploaderConfig {
  url: string;
  clientId: string;
  /** The update's length and the value of each element. */
  params: number;
  updateValue: number;
  chunkBytes: number;
  sendChunks: number;
}

export interface InFlightMessage {
  type: 'in-flight';
  round: number;
  sent: number;
  of: number;
}

const config = JSON.parse(process.argv[2] ?? '') as StalledUploaderConfig;
const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(config.url, { transports: ['websocket'], reconnection: false, forceNew: true });
const train = new Promise<TrainMessage>((resolve) => socket.once('train', resolve));
await new Promise<void>((resolve, reject) => {
  socket.once('connect', resolve);
  socket.once('connect_error', reject);
});
const hello = (await socket.emitWithAck('hello', { protocolVersion: PROTOCOL_VERSION, clientId: config.clientId, numExamples: 10, platform: 'other', backend: 'none' } as never)) as HelloReply;
if (!hello.ok) throw new Error(`hello refused: ${hello.error.code}: ${hello.error.message}`);
const { round } = await train;
const chunks = splitTransfer(`upload-${config.clientId}-${round}`, encodeFloat32(new Float32Array(config.params).fill(config.updateValue)), config.chunkBytes);
if (config.sendChunks >= chunks.length) throw new RangeError(`sendChunks ${config.sendChunks} would complete the ${chunks.length}-chunk upload`);
for (const chunk of chunks.slice(0, config.sendChunks)) {
  const ack = (await socket.emitWithAck('chunk', chunk as never)) as AckReply;
  if (!ack.ok) throw new Error(`chunk ${chunk.index} refused: ${ack.error.code}: ${ack.error.message}`);
}
process.send?.({ type: 'in-flight', round, sent: config.sendChunks, of: chunks.length } satisfies InFlightMessage);
// Stalls here, connected, until killed.
