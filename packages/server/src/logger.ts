/**
 * The server's logger: pino with a `fedkit:server` name and structured fields. Library code
 * logs here, never to the console; the level comes from the caller or FEDKIT_LOG_LEVEL.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** A logger at `level` (default: FEDKIT_LOG_LEVEL, else "warn"). */
export function createLogger(level: string = process.env.FEDKIT_LOG_LEVEL ?? 'warn', name = 'fedkit:server'): Logger {
  return pino({ name, level });
}
