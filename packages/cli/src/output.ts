/**
 * Writing results: atomic JSON files (write to a temporary name, then rename, so a reader
 * never sees half a file) and the `--json` summary line every subcommand prints last.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

let writeSeq = 0;
const lastWrite = new Map<string, Promise<void>>();

/** Writes JSON atomically; writes to the same path happen in call order. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  const previous = lastWrite.get(path) ?? Promise.resolve();
  const next = previous
    .catch(() => undefined)
    .then(async () => {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.${++writeSeq}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, path);
    });
  lastWrite.set(path, next);
  return next;
}

/** Prints the one-line JSON summary (only with --json). */
export function printJsonSummary(enabled: boolean, summary: Record<string, unknown>): void {
  if (enabled) process.stdout.write(`${JSON.stringify(summary)}\n`);
}

/** A run folder name from the current time: `demo-20261126-201500`. */
export function timestampedName(prefix: string, date = new Date()): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${prefix}-${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}
