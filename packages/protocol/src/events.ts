/**
 * The socket.io event maps, one per direction, used as `Server<ClientToServerEvents,
 * ServerToClientEvents>` and `Socket<ServerToClientEvents, ClientToServerEvents>`. Event names
 * are kebab-case strings; every payload is one object described in messages.ts.
 */
import type {
  AckReply,
  ChunkMessage,
  ErrorMessage,
  EvaluateMessage,
  EvaluateResultMessage,
  FinishedMessage,
  HelloMessage,
  SecAggReplyMessage,
  SecAggRequestMessage,
  TrainErrorMessage,
  TrainMessage,
  TrainResultMessage,
  WelcomeMessage,
} from './messages.js';
import type { WireError } from './errors.js';

export type Ack<T = AckReply> = (reply: T) => void;
export type HelloReply = WelcomeMessage | { ok: false; error: WireError };

export interface ClientToServerEvents {
  hello: (msg: HelloMessage, ack: Ack<HelloReply>) => void;
  chunk: (msg: ChunkMessage, ack: Ack) => void;
  'train-result': (msg: TrainResultMessage, ack: Ack) => void;
  'train-error': (msg: TrainErrorMessage, ack: Ack) => void;
  'evaluate-result': (msg: EvaluateResultMessage, ack: Ack) => void;
  'secagg-reply': (msg: SecAggReplyMessage, ack: Ack) => void;
}

export interface ServerToClientEvents {
  chunk: (msg: ChunkMessage) => void;
  train: (msg: TrainMessage) => void;
  evaluate: (msg: EvaluateMessage) => void;
  finished: (msg: FinishedMessage) => void;
  'fedkit-error': (msg: ErrorMessage) => void;
  secagg: (msg: SecAggRequestMessage) => void;
}

/** All event names, for documentation and exhaustive tests. */
export const CLIENT_TO_SERVER_EVENTS = ['hello', 'chunk', 'train-result', 'train-error', 'evaluate-result', 'secagg-reply'] as const;
export const SERVER_TO_CLIENT_EVENTS = ['chunk', 'train', 'evaluate', 'finished', 'fedkit-error', 'secagg'] as const;
