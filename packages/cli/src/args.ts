/**
 * Flag parsing for the subcommands: node:util's strict parseArgs plus typed, validated
 * values, so a bad flag fails with a message that names it and what it accepts, and every
 * subcommand's `--help` is generated from the same table.
 */
import { parseArgs } from 'node:util';
import { FedkitError } from '@fedkit/protocol';

export interface FlagSpec {
  /** What the value is, for help: e.g. "N", "URL", "wasm|cpu". Omit for boolean flags. */
  value?: string;
  description: string;
  default?: string;
}

export type FlagTable = Record<string, FlagSpec>;

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: FlagTable;
}

/** Flags every subcommand takes. */
export const COMMON_FLAGS: FlagTable = {
  json: { description: 'print a one-line JSON summary as the last line' },
  help: { description: 'show this help' },
};

export function helpText(spec: CommandSpec): string {
  const flags = { ...spec.flags, ...COMMON_FLAGS };
  const width = Math.max(...Object.entries(flags).map(([k, f]) => k.length + (f.value ? f.value.length + 1 : 0))) + 4;
  const lines = Object.entries(flags).map(([name, f]) => {
    const left = `  --${name}${f.value ? ` ${f.value}` : ''}`;
    const def = f.default === undefined ? '' : ` (default: ${f.default})`;
    return `${left.padEnd(width + 2)}${f.description}${def}`;
  });
  return `${spec.summary}\n\nUsage: ${spec.usage}\n\nOptions:\n${lines.join('\n')}\n`;
}

/** Parses `argv` against the spec; unknown flags and stray arguments are usage errors. */
export function parseFlags(spec: CommandSpec, argv: string[]): Record<string, string | boolean | undefined> {
  const flags = { ...spec.flags, ...COMMON_FLAGS };
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, f] of Object.entries(flags)) options[name] = { type: f.value === undefined ? 'boolean' : 'string' };
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
    return values as Record<string, string | boolean | undefined>;
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new FedkitError('config-invalid', `${spec.name}: ${message} (see fedkit ${spec.name} --help)`);
  }
}

function bad(flag: string, expected: string, got: string): FedkitError {
  return new FedkitError('config-invalid', `--${flag} must be ${expected}, got "${got}"`);
}

export function intFlag(values: Record<string, unknown>, flag: string, options: { min?: number; max?: number; fallback?: number } = {}): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return options.fallback;
  const text = String(raw);
  const n = Number(text);
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^-?\d+$/.test(text) || n < min || n > max) {
    throw bad(flag, `an integer${options.min !== undefined ? ` ≥ ${min}` : ''}${options.max !== undefined ? ` and ≤ ${max}` : ''}`, text);
  }
  return n;
}

export function numberFlag(values: Record<string, unknown>, flag: string, check: (n: number) => boolean, expected: string): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (String(raw).trim() === '' || !Number.isFinite(n) || !check(n)) throw bad(flag, expected, String(raw));
  return n;
}

export function enumFlag<T extends string>(values: Record<string, unknown>, flag: string, allowed: readonly T[], fallback?: T): T | undefined {
  const raw = values[flag];
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) throw bad(flag, `one of ${allowed.join(', ')}`, String(raw));
  return raw as T;
}

export function requiredFlag(values: Record<string, unknown>, flag: string): string {
  const raw = values[flag];
  if (raw === undefined || raw === '') throw new FedkitError('config-invalid', `--${flag} is required`);
  return String(raw);
}

export function urlFlag(values: Record<string, unknown>, flag: string): string {
  const raw = requiredFlag(values, flag);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad(flag, 'an http:// or https:// URL', raw);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad(flag, 'an http:// or https:// URL', raw);
  return raw;
}

export function requiredIntFlag(values: Record<string, unknown>, flag: string, options: { min?: number; max?: number } = {}): number {
  requiredFlag(values, flag);
  return intFlag(values, flag, options)!;
}
