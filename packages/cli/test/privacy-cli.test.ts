/**
 * `fedkit privacy` run as a user runs it: the built CLI (`npx tsc -b packages/cli` first)
 * as a child process, checked on its output lines and exit code.
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, jsonSummary, runCli } from '../../../tests/helpers/cli.js';

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the CLI first (npx tsc -b packages/cli)`);
});

async function ok(args: string[]) {
  const proc = runCli(args);
  const code = await proc.exited;
  expect(code, proc.stderr.join('\n')).toBe(0);
  return proc;
}

describe('fedkit privacy epsilon', () => {
  it('reproduces Opacus: σ = 1.5, q = 0.04, 2250 steps, δ = 1e-5 → ε = 7.32911117143 at order 3.9', async () => {
    // Opacus accountants_test.py (RDP accountant, signed terms for fractional orders); REFERENCE §2.
    const proc = await ok(['privacy', 'epsilon', '--noise-multiplier', '1.5', '--sampling-rate', '0.04', '--steps', '2250', '--delta', '1e-5', '--json']);
    const summary = jsonSummary(proc);
    expect(Object.keys(summary)).toEqual(['epsilon', 'order']);
    expect(summary.epsilon as number).toBeCloseTo(7.32911117143, 7);
    expect(summary.order).toBe(3.9);
    expect(proc.stdout[0]).toBe('epsilon 7.329111171 at RDP order 3.9 (noise multiplier 1.5, sampling rate 0.04, 2250 steps, delta 0.00001)');
  });

  it('optimises over the given orders only', async () => {
    const proc = await ok(['privacy', 'epsilon', '--noise-multiplier', '1.5', '--sampling-rate', '0.04', '--steps', '2250', '--delta', '1e-5', '--orders', '2,8,32', '--json']);
    const summary = jsonSummary(proc);
    expect([2, 8, 32]).toContain(summary.order);
    expect(summary.epsilon as number).toBeGreaterThan(7.32911117143);
  });

  it('prints an unbounded ε as null in JSON when there is no noise', async () => {
    const proc = await ok(['privacy', 'epsilon', '--noise-multiplier', '0', '--sampling-rate', '0.04', '--steps', '10', '--delta', '1e-5', '--json']);
    expect(jsonSummary(proc)).toEqual({ epsilon: null, order: null });
    expect(proc.stdout[0]).toMatch(/^epsilon is unbounded/);
  });
});

describe('fedkit privacy noise', () => {
  it('finds the noise multiplier for a target ε: Opacus get_noise_multiplier(8, 1e-5, q = 0.04, 2000 steps) ≈ 1.3562', async () => {
    const proc = await ok(['privacy', 'noise', '--target-epsilon', '8', '--sampling-rate', '0.04', '--steps', '2000', '--delta', '1e-5', '--json']);
    const { noiseMultiplier } = jsonSummary(proc) as { noiseMultiplier: number };
    // Opacus stops at an ε tolerance of 0.01 and reports 1.3562; the exact threshold is 1.35613…
    expect(noiseMultiplier).toBeCloseTo(1.3561, 3);
    // Round trip: that z spends at most 8.
    const check = await ok(['privacy', 'epsilon', '--noise-multiplier', String(noiseMultiplier), '--sampling-rate', '0.04', '--steps', '2000', '--delta', '1e-5', '--json']);
    expect(jsonSummary(check).epsilon as number).toBeLessThanOrEqual(8);
    expect(jsonSummary(check).epsilon as number).toBeGreaterThan(7.999);
  });
});

describe('fedkit privacy: help and bad input', () => {
  it.each([['epsilon'], ['noise']])('fedkit privacy %s --help lists its options', async (sub) => {
    const proc = await ok(['privacy', sub, '--help']);
    const text = proc.stdout.join('\n');
    expect(text).toContain(`Usage: fedkit privacy ${sub}`);
    for (const flag of ['--sampling-rate', '--steps', '--delta', '--orders', '--json']) expect(text).toContain(flag);
  });

  it('fedkit privacy --help lists the subcommands; fedkit --help lists privacy', async () => {
    expect((await ok(['privacy', '--help'])).stdout.join('\n')).toMatch(/epsilon.*\n.*noise/);
    expect((await ok(['--help'])).stdout.join('\n')).toContain('privacy');
  });

  const eps = ['privacy', 'epsilon', '--noise-multiplier', '1', '--sampling-rate', '0.01', '--steps', '100', '--delta', '1e-5'];
  const swap = (args: string[], flag: string, value: string | null): string[] => {
    const i = args.indexOf(flag);
    return value === null ? [...args.slice(0, i), ...args.slice(i + 2)] : [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
  };
  const noise = ['privacy', 'noise', '--target-epsilon', '2', '--sampling-rate', '0.01', '--steps', '100', '--delta', '1e-5'];

  it.each([
    [[...swap(eps, '--noise-multiplier', null), '--noise-multiplier=-1'], '--noise-multiplier must be a number ≥ 0, got "-1"'],
    // A bare negative value reads as a flag; parseArgs says which option lacks its value.
    [swap(eps, '--noise-multiplier', '-1'), "option argument for '--noise-multiplier'"],
    [swap(eps, '--noise-multiplier', null), '--noise-multiplier is required'],
    [swap(eps, '--sampling-rate', '4'), '--sampling-rate must be a number in [0, 1], got "4"'],
    [swap(eps, '--sampling-rate', null), '--sampling-rate is required'],
    [swap(eps, '--steps', '2.5'), '--steps must be an integer ≥ 0, got "2.5"'],
    [swap(eps, '--steps', null), '--steps is required'],
    [swap(eps, '--delta', '0'), '--delta must be a number in (0, 1), got "0"'],
    [swap(eps, '--delta', null), '--delta is required'],
    [[...eps, '--orders', '1,2'], '--orders must be a comma-separated list of numbers > 1, got "1,2"'],
    [[...eps, '--orders', ''], '--orders must be a comma-separated list'],
    [[...eps, '--sigma', '2'], "Unknown option '--sigma'"],
    [swap(noise, '--target-epsilon', '0'), '--target-epsilon must be a number > 0, got "0"'],
    [swap(noise, '--target-epsilon', null), '--target-epsilon is required'],
    [swap(noise, '--delta', 'abc'), '--delta must be a number in (0, 1), got "abc"'],
    [['privacy', 'budget'], 'unknown subcommand "budget"; subcommands: epsilon, noise'],
  ])('fedkit %j fails with exit code 2 naming the problem', async (args, message) => {
    const proc = runCli(args);
    expect(await proc.exited).toBe(2);
    expect(proc.stderr.join('\n')).toContain(message);
  });

  it('an unreachable target fails with exit code 2 and says so', async () => {
    // Huge σ eventually gives (0, δ)-DP, so only an absurd run is out of reach below σ = 2^40.
    const proc = runCli(['privacy', 'noise', '--target-epsilon', '1e-9', '--sampling-rate', '1', '--steps', '1000000000000000', '--delta', '1e-5']);
    expect(await proc.exited).toBe(2);
    expect(proc.stderr.join('\n')).toContain('no noise multiplier up to 2^40');
  });

  it('fedkit privacy with no subcommand prints its usage and exits 2', async () => {
    const proc = runCli(['privacy']);
    expect(await proc.exited).toBe(2);
    expect(proc.stdout.join('\n')).toContain('Usage: fedkit privacy <epsilon|noise>');
  });
});
