/**
 * `fedkit privacy`: budget planning without a server. `epsilon` answers "what does this
 * run cost?" (ε for T steps at sampling rate q and noise multiplier z, at δ) and `noise`
 * answers "how much noise do I need?" (the smallest z that keeps T steps within ε). Both
 * use the same RDP accountant the server charges each round.
 */
import { computeEpsilon, DEFAULT_RDP_ORDERS, noiseMultiplierForEpsilon } from '@fedkit/privacy/accountant';
import { FedkitError } from '@fedkit/protocol';
import { helpText, intFlag, numberFlag, parseFlags, requiredFlag, type CommandSpec, type FlagTable } from '../args.js';
import { printJsonSummary } from '../output.js';

const RUN_FLAGS: FlagTable = {
  'sampling-rate': { value: 'Q', description: 'chance q ∈ [0, 1] that a client (or record) takes part in a step, e.g. clients per round / population' },
  steps: { value: 'T', description: 'number of steps (rounds)' },
  delta: { value: 'D', description: 'δ ∈ (0, 1), e.g. 1e-5 (below 1 / population)' },
  orders: { value: 'A,B,…', description: 'RDP orders α > 1 to optimise over', default: `Opacus's ${DEFAULT_RDP_ORDERS.length}: 1.1 … 10.9, 12 … 63` },
};

export const privacyEpsilonCommand: CommandSpec = {
  name: 'privacy epsilon',
  summary: 'Print the ε that T steps of the subsampled Gaussian spend at δ, and the RDP order that gives it.',
  usage: 'fedkit privacy epsilon --noise-multiplier Z --sampling-rate Q --steps T --delta D [--orders a,b,c…] [--json]',
  flags: { 'noise-multiplier': { value: 'Z', description: 'noise stddev / clip norm, z ≥ 0' }, ...RUN_FLAGS },
};

export const privacyNoiseCommand: CommandSpec = {
  name: 'privacy noise',
  summary: 'Print the smallest noise multiplier z that keeps T steps within ε at δ.',
  usage: 'fedkit privacy noise --target-epsilon E --sampling-rate Q --steps T --delta D [--orders a,b,c…] [--json]',
  flags: { 'target-epsilon': { value: 'E', description: 'the ε to stay within, > 0' }, ...RUN_FLAGS },
};

const SUBCOMMANDS: Record<string, { spec: CommandSpec; run: (argv: string[]) => number }> = {
  epsilon: { spec: privacyEpsilonCommand, run: runEpsilon },
  noise: { spec: privacyNoiseCommand, run: runNoise },
};

function usage(): string {
  const lines = Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.spec.summary}`);
  return `Plan a differential-privacy budget with the RDP accountant (Poisson-subsampled Gaussian).\n\nUsage: fedkit privacy <epsilon|noise> [options]\n\nSubcommands:\n${lines.join('\n')}\n\nRun "fedkit privacy <subcommand> --help" for its options.\n`;
}

export async function runPrivacyCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const sub = SUBCOMMANDS[name];
  if (sub === undefined) {
    throw new FedkitError('config-invalid', `privacy: unknown subcommand "${name}"; subcommands: ${Object.keys(SUBCOMMANDS).join(', ')}`);
  }
  return sub.run(rest);
}

/** The flags both subcommands share, checked and converted. */
function runFlags(values: Record<string, unknown>): { samplingRate: number; steps: number; delta: number; orders?: number[] } {
  requiredFlag(values, 'sampling-rate');
  const samplingRate = numberFlag(values, 'sampling-rate', (n) => n >= 0 && n <= 1, 'a number in [0, 1]')!;
  requiredFlag(values, 'steps');
  const steps = intFlag(values, 'steps', { min: 0 })!;
  requiredFlag(values, 'delta');
  const delta = numberFlag(values, 'delta', (n) => n > 0 && n < 1, 'a number in (0, 1)')!;
  const orders = ordersFlag(values);
  return { samplingRate, steps, delta, ...(orders === undefined ? {} : { orders }) };
}

function ordersFlag(values: Record<string, unknown>): number[] | undefined {
  const raw = values.orders;
  if (raw === undefined) return undefined;
  const text = String(raw);
  const orders = text.split(',').map((part) => (part.trim() === '' ? Number.NaN : Number(part)));
  if (orders.some((a) => !Number.isFinite(a) || a <= 1)) {
    throw new FedkitError('config-invalid', `--orders must be a comma-separated list of numbers > 1, got "${text}"`);
  }
  return orders;
}

function runEpsilon(argv: string[]): number {
  const values = parseFlags(privacyEpsilonCommand, argv);
  if (values.help) {
    process.stdout.write(helpText(privacyEpsilonCommand));
    return 0;
  }
  requiredFlag(values, 'noise-multiplier');
  const noiseMultiplier = numberFlag(values, 'noise-multiplier', (n) => n >= 0, 'a number ≥ 0')!;
  const run = runFlags(values);
  const { epsilon, order } = computeEpsilon({ noiseMultiplier, ...run });
  const plan = `noise multiplier ${noiseMultiplier}, sampling rate ${run.samplingRate}, ${run.steps} steps, delta ${run.delta}`;
  if (epsilon === Infinity) {
    process.stdout.write(`epsilon is unbounded (${plan}): without noise there is no privacy guarantee\n`);
  } else {
    process.stdout.write(`epsilon ${format(epsilon)} at RDP order ${order} (${plan})\n`);
  }
  // JSON has no Infinity: an unbounded ε is null.
  printJsonSummary(values.json === true, {
    epsilon: Number.isFinite(epsilon) ? epsilon : null,
    order: Number.isFinite(order) ? order : null,
  });
  return 0;
}

function runNoise(argv: string[]): number {
  const values = parseFlags(privacyNoiseCommand, argv);
  if (values.help) {
    process.stdout.write(helpText(privacyNoiseCommand));
    return 0;
  }
  requiredFlag(values, 'target-epsilon');
  const targetEpsilon = numberFlag(values, 'target-epsilon', (n) => n > 0, 'a number > 0')!;
  const run = runFlags(values);
  const noiseMultiplier = noiseMultiplierForEpsilon({ targetEpsilon, ...run });
  process.stdout.write(
    `noise multiplier ${format(noiseMultiplier)} keeps ${run.steps} steps at sampling rate ${run.samplingRate} within epsilon ${targetEpsilon} at delta ${run.delta}\n`,
  );
  printJsonSummary(values.json === true, { noiseMultiplier });
  return 0;
}

/** Ten significant digits: enough to compare with published values, short enough to read. */
function format(value: number): string {
  return String(Number(value.toPrecision(10)));
}
