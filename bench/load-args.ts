/**
 * bench:load's flags, checked before anything starts: `--connections N --participants M
 * --procs P --rounds R --join-concurrency J --cluster-workers W` (W server processes on
 * Redis; absent: one process in the bench itself).
 */

export interface LoadArguments {
  connections: number;
  participants: number;
  procs: number;
  rounds: number;
  /** Handshakes in flight at once per client process. */
  joinConcurrency: number;
  /** Server processes sharing the federation through Redis; null: one, in the bench process. */
  clusterWorkers: number | null;
}

const DEFAULTS: LoadArguments = { connections: 5000, participants: 1000, procs: 10, rounds: 2, joinConcurrency: 50, clusterWorkers: null };
const FLAGS: Record<string, keyof LoadArguments> = {
  '--connections': 'connections',
  '--participants': 'participants',
  '--procs': 'procs',
  '--rounds': 'rounds',
  '--join-concurrency': 'joinConcurrency',
  '--cluster-workers': 'clusterWorkers',
};

/** Parses argv (without node and the script); throws RangeError naming a bad flag. */
export function loadArguments(argv: readonly string[]): LoadArguments {
  const out: LoadArguments = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const key = FLAGS[flag];
    if (key === undefined) throw new RangeError(`unknown flag ${flag}; known: ${Object.keys(FLAGS).join(' ')}`);
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${flag} must be a positive integer, got ${JSON.stringify(argv[i])}`);
    out[key] = value;
  }
  if (out.participants > out.connections) throw new RangeError(`--participants (${out.participants}) must not exceed --connections (${out.connections})`);
  if (out.procs > out.connections) throw new RangeError(`--procs (${out.procs}) must not exceed --connections (${out.connections})`);
  return out;
}
