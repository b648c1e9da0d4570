/**
 * Byzantine-robust aggregation: N = 100 client updates of P = 1M floats through each robust
 * strategy (beginTrain → add × N → aggregateTrain), REFERENCE §4's setting ("coordinate-wise
 * median of N = 100 updates of 1M floats: ~650 ms in plain JS; mean ~150 ms").
 *
 * `ms` is the median time of aggregateTrain alone (the robust work: kernels, selection,
 * global + Δ); `addMs` the N adds before it (each copies an update into the round's store).
 * In the same run, as baselines: a plain-JS median (per coordinate: gather the N values of a
 * block of coordinates, quickselect; what this replaces) and streaming FedAvg's whole round.
 * Memory is measured in a fresh child process per strategy, as the growth of the peak
 * resident set (`resourceUsage().maxRSS`) over one round, above its value once the inputs
 * exist: V8's heap and `external` counters miss wasm memory growth, the peak RSS does not,
 * and it includes every transient buffer. The N × P × 4-byte store (400 MB here) is most of it.
 *
 *     pnpm bench:robust
 *     npx tsx bench/robust.ts --clients 20 --params 100000 --kernel js
 *
 * The last line printed is one JSON object for tooling.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { bulyan, fedAvg, fedMedian, fedTrimmedAvg, krum, multiKrum, withNormBound, type KernelChoice, type Strategy, type TrainReply } from '@fedkit/aggregation';
import { seededRandomSource, type WeightsLayout } from '@fedkit/protocol';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1]! : fallback;
}

const clients = Number(argument('clients', '100'));
const params = Number(argument('params', '1000000'));
const kernel = argument('kernel', 'auto') as KernelChoice;
const reps = Number(argument('reps', '3'));
if (!Number.isInteger(clients) || clients < 11) throw new RangeError(`--clients must be an integer ≥ 11 (Bulyan with f = 2), got ${clients}`);
if (!Number.isInteger(params) || params < 1) throw new RangeError(`--params must be a positive integer, got ${params}`);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// 10 % Byzantine: f = 10 at N = 100 (Bulyan needs N ≥ 4f + 3, so f is capped there).
const f = Math.min(Math.floor(clients / 10), Math.floor((clients - 3) / 4));
const STRATEGIES: [string, () => Strategy][] = [
  ['median', () => fedMedian({ kernel })],
  ['trimmedMean', () => fedTrimmedAvg({ beta: 0.1, kernel })],
  ['krum', () => krum({ numMaliciousClients: f, kernel })],
  ['multiKrum', () => multiKrum({ numMaliciousClients: f, numClientsToKeep: clients - f, kernel })],
  ['bulyan', () => bulyan({ numMaliciousClients: f, kernel })],
  ['normBound', () => withNormBound(fedAvg(), { maxNorm: 1 })],
];

const layout: WeightsLayout = [{ name: 'all', shape: [params] }];
const random = seededRandomSource(2018);
const global = Float32Array.from({ length: params }, () => random.nextFloat() - 0.5);
// Distinct updates: a shared direction plus per-client noise, so selection and sorting see real data.
const direction = Float32Array.from({ length: params }, () => (random.nextFloat() - 0.5) * 0.002);
const replies: TrainReply[] = Array.from({ length: clients }, (_, k) => ({
  clientId: `client-${String(k).padStart(3, '0')}`,
  numExamples: 500 + ((k * 37) % 200),
  update: direction.map((d) => d + (random.nextFloat() - 0.5) * 0.001),
  metrics: { loss: 1 },
}));

/** One round; returns [add ms, aggregateTrain ms]. */
function round(strategy: Strategy): [number, number] {
  const start = performance.now();
  const accumulator = strategy.beginTrain(1, global, layout);
  for (const reply of replies) accumulator.add(reply);
  const beforeAggregate = performance.now();
  const result = strategy.aggregateTrain(1, accumulator, []);
  const end = performance.now();
  if (result === null) throw new Error('round unexpectedly failed');
  return [beforeAggregate - start, end - beforeAggregate];
}

/** In a child process: the growth of the peak RSS over one round of `name`, in bytes. */
function peakRssOfOneRound(name: string): number {
  const make = STRATEGIES.find(([n]) => n === name)?.[1];
  if (make === undefined) throw new RangeError(`unknown strategy ${name}`);
  gc();
  const before = process.resourceUsage().maxRSS;
  round(make());
  return (process.resourceUsage().maxRSS - before) * 1024;
}

const memoryOf = argument('memory-of', '');
if (memoryOf !== '') {
  console.log(JSON.stringify({ peakExtraBytes: peakRssOfOneRound(memoryOf) }));
  process.exit(0);
}

function measureInChild(name: string): number {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--clients', String(clients), '--params', String(params), '--kernel', kernel, '--memory-of', name];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (child.status !== 0) throw new Error(`memory run of ${name} failed (${child.status}): ${child.stderr}`);
  const last = child.stdout.trim().split('\n').pop()!;
  return (JSON.parse(last) as { peakExtraBytes: number }).peakExtraBytes;
}

/** The plain-JS median this work replaces: per block of 256 coordinates, gather, then quickselect. */
function plainJsMedian(): number {
  const start = performance.now();
  const n = clients;
  const block = 256;
  const tile = new Float64Array(block * n);
  const out = new Float32Array(params);
  for (let col = 0; col < params; col += block) {
    const width = Math.min(block, params - col);
    for (let r = 0; r < n; r++) {
      const row = replies[r]!.update;
      for (let c = 0; c < width; c++) tile[c * n + r] = row[col + c]!;
    }
    for (let c = 0; c < width; c++) {
      const lo = c * n;
      const k = lo + ((n - 1) >> 1);
      quickselect(tile, lo, lo + n - 1, k);
      let m = tile[k]!;
      if (n % 2 === 0) {
        let next = Infinity;
        for (let i = k + 1; i < lo + n; i++) next = Math.min(next, tile[i]!);
        m = (m + next) / 2;
      }
      out[col + c] = global[col + c]! + m;
    }
  }
  return performance.now() - start + out[0]! * 0;
}

function quickselect(a: Float64Array, lo: number, hi: number, k: number): void {
  while (hi > lo) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;
const fmt = (x: number, digits = 1): number => Number(x.toFixed(digits));

console.log(`robust aggregation: ${clients} updates of ${params} floats (${fmt((clients * params * 4) / 1e6)} MB), f = ${f}, kernel option '${kernel}', ${reps} timed reps after 1 warm-up`);
const ms: Record<string, number> = {};
const addMs: Record<string, number> = {};
const peakExtraBytes: Record<string, number> = {};
for (const [name, make] of STRATEGIES) {
  const strategy = make();
  const times: number[] = [];
  const adds: number[] = [];
  for (let rep = 0; rep <= reps; rep++) {
    gc();
    const [add, aggregate] = round(strategy);
    if (rep === 0) continue; // warm-up
    adds.push(add);
    times.push(aggregate);
  }
  ms[name] = fmt(median(times));
  addMs[name] = fmt(median(adds));
  const peak = measureInChild(name);
  peakExtraBytes[name] = peak;
  console.log(`  ${name.padEnd(12)} aggregateTrain median ${ms[name]} ms (${times.map((t) => fmt(t)).join(', ')}), adds ${addMs[name]} ms, peak extra RSS ${fmt(peak / 1e6)} MB = ${fmt(peak / (params * 4))} × model`);
}
gc();
const plainMedianMs = fmt(median(Array.from({ length: reps }, plainJsMedian)));
const fedAvgStrategy = fedAvg({ kernel });
const fedAvgRoundMs = fmt(median(Array.from({ length: reps + 1 }, () => round(fedAvgStrategy)).slice(1).map(([a, b]) => a + b)));
console.log(`  baselines in this run: plain-JS median (gather + quickselect) ${plainMedianMs} ms → ${fmt(plainMedianMs / ms.median!, 2)}x the median kernel's time; streaming FedAvg whole round ${fedAvgRoundMs} ms`);
console.log(JSON.stringify({ bench: 'robust', clients, params, f, ms, addMs, peakExtraBytes, plainJsMedianMs: plainMedianMs, fedAvgRoundMs }));
