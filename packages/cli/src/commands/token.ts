/**
 * `fedkit token create`: issue an enrollment token for one federation, signed with the
 * server secret the server reads (`<data-dir>/auth-secret.key`, created on first use, or
 * an existing `--secret-file`). Hand the token to a client (`fedkit client --token`).
 */
import { resolve } from 'node:path';
import { FedkitError } from '@fedkit/protocol';
import { createEnrollmentToken, defaultSecretFile, loadServerSecret, parseDurationMs } from '@fedkit/server';
import { helpText, parseFlags, requiredFlag, type CommandSpec } from '../args.js';
import { printJsonSummary } from '../output.js';

export const tokenCommand: CommandSpec = {
  name: 'token',
  summary: 'Issue an enrollment token that lets one client join a federation until it expires.',
  usage: 'fedkit token create --federation ID --ttl 24h [--data-dir DIR | --secret-file FILE] [--json]',
  flags: {
    federation: { value: 'ID', description: 'the federation id (the server config\'s federation.auth.federationId)' },
    ttl: { value: 'DURATION', description: 'lifetime: 90s, 15m, 24h, 7d' },
    'data-dir': { value: 'DIR', description: 'the server\'s data dir, whose auth-secret.key signs the token (created if missing)', default: '.fedkit/server' },
    'secret-file': { value: 'FILE', description: 'an existing secret file to sign with instead of the data dir\'s' },
  },
};

export async function runTokenCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === undefined) {
    process.stdout.write(helpText(tokenCommand));
    return action === undefined ? 2 : 0;
  }
  if (action !== 'create') throw new FedkitError('config-invalid', `token: unknown action "${action}" (only "create"; see fedkit token --help)`);
  const values = parseFlags(tokenCommand, rest);
  if (values.help) {
    process.stdout.write(helpText(tokenCommand));
    return 0;
  }
  const federationId = requiredFlag(values, 'federation');
  if (!/^[A-Za-z0-9._:@-]{1,128}$/.test(federationId)) throw new FedkitError('config-invalid', `--federation must be 1–128 letters, digits or . _ : @ -, got "${federationId}"`);
  const ttlMs = parseDurationMs(requiredFlag(values, 'ttl'));
  if (typeof values['secret-file'] === 'string' && typeof values['data-dir'] === 'string') {
    throw new FedkitError('config-invalid', 'give --data-dir or --secret-file, not both');
  }
  const secretFile =
    typeof values['secret-file'] === 'string' ? resolve(values['secret-file']) : defaultSecretFile(resolve(typeof values['data-dir'] === 'string' ? values['data-dir'] : '.fedkit/server'));
  const secret = loadServerSecret(secretFile, { create: typeof values['secret-file'] !== 'string' });
  const { token, claims } = createEnrollmentToken({ secret, federationId, ttlMs });
  const json = values.json === true;
  if (!json) process.stdout.write(`${token}\n`);
  printJsonSummary(json, {
    command: 'token',
    token,
    federationId,
    tokenId: claims.tokenId,
    issuedAt: new Date(claims.issuedAtMs).toISOString(),
    expiresAt: new Date(claims.expiresAtMs).toISOString(),
    secretFile,
  });
  return 0;
}
