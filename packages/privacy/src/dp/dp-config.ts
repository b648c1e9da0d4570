/**
 * Checks a server's DP configuration as a whole, once, before anything runs. Each number
 * may be fine on its own while the combination is not: distributed DP without secure
 * aggregation hands the server every barely-noised update; a budget without δ cannot be
 * enforced; adaptive clipping has no meaning when each client noises its own report; a
 * server that sees only a secure sum cannot clip or count each update (mode 'central'). A
 * mistake here weakens privacy silently, so every rule fails loudly with
 * `FedkitError('config-invalid')` naming the field.
 */
import { FedkitError } from '@fedkit/protocol';
import type { PrivacyBudget } from '../accountant/index.js';
import { ADAPTIVE_CLIPPING_DEFAULTS, adaptiveNoiseSplit, type AdaptiveNoiseSplit } from './adaptive-math.js';

/** Where noise is added: nowhere, on each client, on the server, or split across clients under secure aggregation. */
export type DpMode = 'none' | 'local' | 'central' | 'distributed';

export const DP_MODES: readonly DpMode[] = Object.freeze(['none', 'local', 'central', 'distributed']);

export interface AdaptiveClippingConfig {
  initialClipNorm: number;
  targetQuantile: number;
  clipLearningRate: number;
  /** σ_b; `null` means the default m/20. */
  clippedCountStddev: number | null;
}

/** A validated DP configuration, defaults filled in. */
export interface DpConfig {
  mode: DpMode;
  /** Fixed S; `null` in mode 'none' and under adaptive clipping. */
  clipNorm: number | null;
  /** z (z_total under adaptive clipping); 0 in mode 'none'. */
  noiseMultiplier: number;
  /** m; required for 'central' and 'distributed' (the fixed denominator), else `null`. */
  expectedClients: number | null;
  adaptiveClipping: AdaptiveClippingConfig | null;
  /** The (ε, δ) budget the server enforces, or `null` for none. */
  budget: PrivacyBudget | null;
}

/** The raw form: what a config file holds. `adaptiveClipping: true` takes every default. */
export interface DpConfigInput {
  mode: DpMode;
  clipNorm?: number;
  noiseMultiplier?: number;
  expectedClients?: number;
  adaptiveClipping?: boolean | Partial<AdaptiveClippingConfig>;
  budget?: { epsilon: number; delta: number };
}

export interface DpConfigContext {
  /** Whether the server runs secure aggregation (required by mode 'distributed'). */
  secureAggregation: boolean;
  /** Prefix of field names in messages. @default 'dp' */
  field?: string;
}

const KEYS = ['mode', 'clipNorm', 'noiseMultiplier', 'expectedClients', 'adaptiveClipping', 'budget'];
const ADAPTIVE_KEYS = ['initialClipNorm', 'targetQuantile', 'clipLearningRate', 'clippedCountStddev'];

/**
 * Validates `input` against the rules of the DP modes and returns it with defaults filled.
 *
 * @example
 * validateDpConfig({ mode: 'central', clipNorm: 1, noiseMultiplier: 1.1, expectedClients: 100,
 *                    budget: { epsilon: 8, delta: 1e-5 } }, { secureAggregation: false });
 */
export function validateDpConfig(input: unknown, context: DpConfigContext): DpConfig {
  const prefix = context?.field ?? 'dp';
  const fail = (field: string, message: string): never => {
    throw new FedkitError('config-invalid', `field "${prefix}${field === '' ? '' : `.${field}`}": ${message}`);
  };
  const raw = asObject(input, '', KEYS, fail);
  const mode = raw.mode;
  if (!DP_MODES.includes(mode as DpMode)) fail('mode', `must be one of ${DP_MODES.map((m) => `"${m}"`).join(', ')}, got ${show(mode)}`);

  if (mode === 'none') {
    for (const key of KEYS.slice(1)) if (raw[key] !== undefined) fail(key, 'has no effect when mode is "none": remove it or choose a DP mode');
    return { mode, clipNorm: null, noiseMultiplier: 0, expectedClients: null, adaptiveClipping: null, budget: null };
  }
  if (mode === 'central' && context?.secureAggregation === true) {
    fail(
      'mode',
      '"central" clips (and, with adaptiveClipping, counts) each update on the server, but secure aggregation shows the server only the masked sum: use mode "distributed", where each client clips, adds its share of the noise and of the clipped count',
    );
  }
  if (mode === 'distributed' && context?.secureAggregation !== true) {
    fail('mode', '"distributed" needs secure aggregation: each client adds only 1/√m of the noise, so the server must see nothing but the sum');
  }

  const noiseMultiplier = number(raw.noiseMultiplier, 'noiseMultiplier', (v) => v >= 0, 'a finite number ≥ 0', fail);
  const central = mode === 'central' || mode === 'distributed';
  const expectedClients =
    raw.expectedClients === undefined && !central
      ? null
      : number(raw.expectedClients, 'expectedClients', (v) => v > 0, `a number > 0 (the fixed denominator of mode "${mode}")`, fail);

  let adaptiveClipping: AdaptiveClippingConfig | null = null;
  if (raw.adaptiveClipping !== undefined && raw.adaptiveClipping !== false) {
    if (!central) fail('adaptiveClipping', `is only for modes "central" and "distributed", not "${mode}"`);
    if (raw.clipNorm !== undefined) fail('clipNorm', 'conflicts with adaptiveClipping: give adaptiveClipping.initialClipNorm instead');
    adaptiveClipping = adaptive(raw.adaptiveClipping, fail);
    try {
      adaptiveNoiseSplit({
        noiseMultiplier,
        expectedClients: expectedClients!,
        ...(adaptiveClipping.clippedCountStddev === null ? {} : { clippedCountStddev: adaptiveClipping.clippedCountStddev }),
      });
    } catch (error) {
      fail('noiseMultiplier', (error as Error).message);
    }
  }
  const clipNorm =
    adaptiveClipping === null ? number(raw.clipNorm, 'clipNorm', (v) => v > 0, 'a finite number > 0', fail) : null;

  let budget: PrivacyBudget | null = null;
  if (raw.budget !== undefined) {
    const b = asObject(raw.budget, 'budget', ['epsilon', 'delta'], fail);
    const epsilon = number(b.epsilon, 'budget.epsilon', (v) => v > 0, 'a finite number > 0', fail);
    if (b.delta === undefined) fail('budget.delta', 'is required: an (ε, δ) budget needs δ in (0, 1), e.g. 1e-5');
    const delta = number(b.delta, 'budget.delta', (v) => v > 0 && v < 1, 'a number in (0, 1)', fail);
    budget = { epsilon, delta };
  }
  return { mode: mode as DpMode, clipNorm, noiseMultiplier, expectedClients, adaptiveClipping, budget };
}

/** The noise split of a validated config with adaptive clipping (σ_b's default filled in); `null` without. */
export function adaptiveSplitOf(config: DpConfig): AdaptiveNoiseSplit | null {
  const adaptive = config.adaptiveClipping;
  if (adaptive === null || config.expectedClients === null) return null;
  return adaptiveNoiseSplit({
    noiseMultiplier: config.noiseMultiplier,
    expectedClients: config.expectedClients,
    ...(adaptive.clippedCountStddev === null ? {} : { clippedCountStddev: adaptive.clippedCountStddev }),
  });
}

type Fail = (field: string, message: string) => never;

function adaptive(value: unknown, fail: Fail): AdaptiveClippingConfig {
  const d = ADAPTIVE_CLIPPING_DEFAULTS;
  const raw = value === true ? {} : asObject(value, 'adaptiveClipping', ADAPTIVE_KEYS, fail);
  const get = (key: string, fallback: number, ok: (v: number) => boolean, expected: string): number =>
    raw[key] === undefined ? fallback : number(raw[key], `adaptiveClipping.${key}`, ok, expected, fail);
  return {
    initialClipNorm: get('initialClipNorm', d.initialClipNorm, (v) => v > 0, 'a finite number > 0'),
    targetQuantile: get('targetQuantile', d.targetQuantile, (v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
    clipLearningRate: get('clipLearningRate', d.clipLearningRate, (v) => v > 0, 'a finite number > 0'),
    clippedCountStddev:
      raw.clippedCountStddev === undefined
        ? null
        : number(raw.clippedCountStddev, 'adaptiveClipping.clippedCountStddev', (v) => v >= 0, 'a finite number ≥ 0', fail),
  };
}

function asObject(value: unknown, field: string, keys: readonly string[], fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, `must be an object, got ${show(value)}`);
  const unknown = Object.keys(value as object).filter((k) => !keys.includes(k));
  if (unknown.length > 0) fail(field, `unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${keys.join(', ')})`);
  return value as Record<string, unknown>;
}

function number(value: unknown, field: string, ok: (v: number) => boolean, expected: string, fail: Fail): number {
  if (value === undefined) fail(field, `is required (${expected})`);
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) fail(field, `must be ${expected}, got ${show(value)}`);
  return value as number;
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
