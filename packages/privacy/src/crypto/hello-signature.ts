/**
 * Proof of a registered identity key at join: the client signs
 * `fedkit-hello-v1|<socket.io session id>|<client id>` with its Ed25519 identity key and
 * sends the signature as `hello.authSignature`. Binding the session id means a signature
 * seen on the wire is worthless on any other connection. tweetnacl only (browsers too).
 */
import nacl from 'tweetnacl';
import { helloSignatureMessage } from '@fedkit/protocol';
import type { IdentityKeyPair } from './seal-update.js';

/** The 64-byte signature for `hello.authSignature`. */
export function signHello(identity: IdentityKeyPair, sessionId: string, clientId: string): Uint8Array {
  return nacl.sign.detached(helloSignatureMessage(sessionId, clientId), identity.secretKey);
}
