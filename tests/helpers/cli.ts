/**
 * Runs the built `fedkit` CLI as a child process, the way a user does, and reads its output
 * line by line. Tests wait on output lines and exits, never on sleeps.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  stdout: string[];
  stderr: string[];
  /** Resolves with the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export function runCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const watchers: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const lines = (sink: string[], onLine?: (line: string) => void) => {
    let buffer = '';
    return (data: Buffer) => {
      buffer += data.toString('utf8');
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      for (const line of parts) {
        sink.push(line);
        onLine?.(line);
      }
    };
  };
  child.stdout.on(
    'data',
    lines(stdout, (line) => {
      for (const w of watchers.slice()) {
        const match = line.match(w.pattern);
        if (match) {
          watchers.splice(watchers.indexOf(w), 1);
          w.resolve(match);
        }
      }
    }),
  );
  child.stderr.on('data', lines(stderr));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout,
    stderr,
    exited,
    waitForLine(pattern) {
      const seen = stdout.map((l) => l.match(pattern)).find((m) => m !== null);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        watchers.push({ pattern, resolve });
        void exited.then((code) => reject(new Error(`fedkit exited (${code}) before printing ${pattern}:\n${stdout.join('\n')}\n${stderr.join('\n')}`)));
      });
    },
  };
}

/** The parsed `--json` summary: the last stdout line. */
export function jsonSummary(proc: CliProcess): Record<string, unknown> {
  return JSON.parse(proc.stdout[proc.stdout.length - 1]!) as Record<string, unknown>;
}
