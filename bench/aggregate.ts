/**
 * Streaming FedAvg throughput and memory: N client updates of the paper's CNN size
 * (P = 1,663,370 floats, REFERENCE §1) folded through the real strategy
 * (beginTrain → add × N → aggregateTrain).
 *
 * Speed is compared with `Float32Array.prototype.set` copying the same bytes in the same run
 * (interleaved repetitions, medians), since absolute GB/s move with the machine and its load.
 * Memory is the peak growth of heap + external above a baseline taken once the inputs exist:
 * `external` rather than `arrayBuffers`, because the wasm kernel's memory is counted there and
 * not in `arrayBuffers`. It is sampled after every `add` in rounds that start from a collected
 * heap, so it is what one round holds (kernel memory, result, garbage made during the round);
 * the peak over back-to-back timed rounds, which adds results of earlier rounds that the GC
 * has not collected yet, is printed beside it.
 *
 *     pnpm bench:aggregate                 # N = 100
 *     npx tsx bench/aggregate.ts --clients 10 --kernel js
 *
 * The last line printed is one JSON object for tooling.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fedAvg, type KernelChoice, type TrainReply } from '@fedkit/aggregation';
import { seededRandomSource, type WeightsLayout } from '@fedkit/protocol';

const PARAMS = 1_663_370;
/** Distinct update arrays, reused cyclically: enough to defeat caching of one, few enough not to dominate memory. */
const DISTINCT_UPDATES = 4;
const MEMORY_REPS = 3;
const WARMUP_REPS = 2;
const TIMED_REPS = 7;

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1]! : fallback;
}

const clients = Number(argument('clients', '100'));
const kernel = argument('kernel', 'auto') as KernelChoice;
if (!Number.isInteger(clients) || clients < 1) throw new RangeError(`--clients must be a positive integer, got ${clients}`);

// A real gc() for a clean baseline (tsx gives no way to pass --expose-gc through pnpm scripts).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const layout: WeightsLayout = [{ name: 'cnn/all', shape: [PARAMS] }];
const random = seededRandomSource(2017);
const randomVector = (scale: number): Float32Array =>
  Float32Array.from({ length: PARAMS }, () => (random.nextFloat() * 2 - 1) * scale);
const global = randomVector(0.1);
const updates = Array.from({ length: DISTINCT_UPDATES }, () => randomVector(0.01));
const replies: TrainReply[] = Array.from({ length: clients }, (_, k) => ({
  clientId: `client-${k}`,
  numExamples: 500 + ((k * 37) % 200),
  update: updates[k % DISTINCT_UPDATES]!,
  metrics: { loss: 1 + (k % 7) * 0.1, accuracy: 0.9 },
}));
const copyTarget = new Float32Array(PARAMS);

gc();
const footprint = (): { withWasm: number; heapAndArrayBuffers: number } => {
  const m = process.memoryUsage();
  return { withWasm: m.heapUsed + m.external, heapAndArrayBuffers: m.heapUsed + m.arrayBuffers };
};
const baseline = footprint();
/** Peak growth above the baseline: [heap + external, heap + arrayBuffers]. */
const roundPeak = [0, 0];
const backToBackPeak = [0, 0];
function sampleMemory(peak: number[]): void {
  const now = footprint();
  peak[0] = Math.max(peak[0]!, now.withWasm - baseline.withWasm);
  peak[1] = Math.max(peak[1]!, now.heapAndArrayBuffers - baseline.heapAndArrayBuffers);
}

const strategy = fedAvg({ kernel });
let checksum = 0;

/** One round through the strategy; returns [total ms, aggregateTrain ms]. */
function round(peak: number[] | null): [number, number] {
  const start = performance.now();
  const accumulator = strategy.beginTrain(1, global, layout);
  for (const reply of replies) {
    accumulator.add(reply);
    if (peak !== null) sampleMemory(peak);
  }
  const beforeAggregate = performance.now();
  const result = strategy.aggregateTrain(1, accumulator, []);
  const end = performance.now();
  if (result === null) throw new Error('round unexpectedly failed');
  if (peak !== null) sampleMemory(peak); // the result is still alive here
  checksum += result.weights[PARAMS >> 1]!;
  return [end - start, end - beforeAggregate];
}

function copyAll(): number {
  const start = performance.now();
  for (const reply of replies) copyTarget.set(reply.update);
  return performance.now() - start;
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;

// Rounds measured for memory alone, each from a collected heap; the first one also allocates
// the kernel's wasm memory, which the strategy then keeps for later rounds.
// The reported peak is the largest of these rounds (later ones also hold JIT code made by earlier ones).
const peakPerRound: number[] = [];
for (let rep = 0; rep < MEMORY_REPS; rep++) {
  gc();
  const peak = [0, 0];
  round(peak);
  peakPerRound.push(peak[0]!);
  roundPeak[0] = Math.max(roundPeak[0]!, peak[0]!);
  roundPeak[1] = Math.max(roundPeak[1]!, peak[1]!);
}
const roundMs: number[] = [];
const aggregateMs: number[] = [];
const copyMs: number[] = [];
for (let rep = 0; rep < WARMUP_REPS + TIMED_REPS; rep++) {
  const copy = copyAll();
  const [total, aggregate] = round(null);
  sampleMemory(backToBackPeak);
  if (rep < WARMUP_REPS) continue;
  copyMs.push(copy);
  roundMs.push(total);
  aggregateMs.push(aggregate);
}

const inputBytes = clients * PARAMS * 4;
const gbps = inputBytes / median(roundMs) / 1e6;
const copyGbps = inputBytes / median(copyMs) / 1e6;
const ratio = gbps / copyGbps;
const modelBytes = PARAMS * 4;
const fmt = (x: number, digits = 2): string => x.toFixed(digits);

console.log(`streaming FedAvg: ${clients} updates of ${PARAMS} floats (${fmt(inputBytes / 1e6, 1)} MB), kernel option '${kernel}', ${TIMED_REPS} reps after ${WARMUP_REPS} warm-up`);
console.log(`  round (beginTrain + ${clients} add + aggregateTrain): median ${fmt(median(roundMs))} ms → ${fmt(gbps)} GB/s of input`);
console.log(`  of which aggregateTrain (global + sum / m, fresh array): median ${fmt(median(aggregateMs))} ms`);
console.log(`  Float32Array.prototype.set of the same bytes: median ${fmt(median(copyMs))} ms → ${fmt(copyGbps)} GB/s`);
console.log(`  ratio ${fmt(ratio)} (target ≥ 0.4)`);
const mb = (bytes: number): string => `${fmt(bytes / 1e6, 1)} MB = ${fmt(bytes / modelBytes)} × model`;
console.log(`  peak extra heap + external in one round: ${mb(roundPeak[0]!)} (target ≤ 3 ×)`);
console.log(`    per round, from a collected heap: ${peakPerRound.map((b) => `${fmt(b / 1e6, 1)} MB`).join(', ')}`);
console.log(`    heap + arrayBuffers alone, which misses the wasm memory: ${mb(roundPeak[1]!)}`);
console.log(`    over back-to-back timed rounds, with earlier rounds' results not yet collected: ${mb(backToBackPeak[0]!)}`);
console.log(`  checksum ${checksum}`);
console.log(
  JSON.stringify({
    bench: 'aggregate',
    clients,
    params: PARAMS,
    gbps: Number(fmt(gbps, 3)),
    copyGbps: Number(fmt(copyGbps, 3)),
    ratio: Number(fmt(ratio, 3)),
    peakExtraHeapBytes: roundPeak[0],
  }),
);
