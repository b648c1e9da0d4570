/**
 * The WebAssembly SIMD kernels of the robust strategies, assembled by hand into bytes (as
 * kernels/wasm-simd-bytes.ts does for FedAvg's fold, whose encoders this reuses): no
 * toolchain, no `.wasm` file to fetch, the same bytes in Node and browsers.
 *
 * Every kernel works on 16 coordinates at a time, four `v128` lanes of four floats, so that
 * per-coordinate selection becomes branch-free arithmetic on columns: a sorting network
 * whose comparators are `f32x4.pmin`/`pmax` sorts the n values of 16 coordinates at once,
 * with no transpose and no data-dependent branch (the quickselect this replaces spends most
 * of its time in mispredicted branches). Exports, all on the imported `env.memory`:
 *
 *     sortGroup(rowTable, rowTableEnd, col4, scratch, net, netEnd)
 *         gathers 16 floats at byte offset col4 from each row whose address the i32 table
 *         [rowTable, rowTableEnd) lists into scratch (64 bytes a row), then applies the
 *         comparators [net, netEnd) (pairs of i32 byte addresses into scratch)
 *     sumRanks(from, to, scale, out)      out[0..16) = Σ_{from ≤ p < to, step 64} fl(p[·] · scale)
 *     closestMean(scratch, theta, beta, lo, hi, scale, out)
 *         Bulyan's step on θ sorted rows: the mean of the β values closest to the median
 *     distanceBlocks(table, tableEnd, col4, len4)
 *         for each 2 × 2 block of rows the table lists, adds Σ (a − b)² over len4 bytes from
 *         col4 to four f64 sums
 */
import { name, section, sleb, uleb, vec } from '../kernels/wasm-simd-bytes.js';

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const SIMD = 0xfd;

const get = (local: number): number[] => [0x20, ...uleb(local)];
const set = (local: number): number[] => [0x21, ...uleb(local)];
const i32 = (value: number): number[] => [0x41, ...sleb(value)];
const f32 = (value: number): number[] => [0x43, ...new Uint8Array(Float32Array.of(value).buffer)];
const simd = (op: number): number[] => [SIMD, ...uleb(op)];
const ADD = [0x6a];
const SHL = [0x74];
const LT_U = [0x49];
const I32_LOAD = (offset: number): number[] => [0x28, 2, ...uleb(offset)];
const F64_LOAD = (offset: number): number[] => [0x2b, 3, ...uleb(offset)];
const F64_STORE = (offset: number): number[] => [0x39, 3, ...uleb(offset)];
const F64_ADD = [0xa0];
const F64_PROMOTE = [0xbb];
const LOAD = (offset: number): number[] => [...simd(0x00), 0, ...uleb(offset)];
const STORE = (offset: number): number[] => [...simd(0x0b), 0, ...uleb(offset)];
const ZERO = [...simd(0x0c), ...new Array<number>(16).fill(0)];
const I32X4_SPLAT = simd(0x11);
const F32X4_SPLAT = simd(0x13);
const EXTRACT = (lane: number): number[] => [...simd(0x1f), lane];
const I32X4_LT_S = simd(0x39);
const I32X4_GE_S = simd(0x3f);
const F32X4_GT = simd(0x44);
const AND = simd(0x4e);
const I32X4_ADD = simd(0xae);
const I32X4_SUB = simd(0xb1);
const F32X4_ADD = simd(0xe4);
const F32X4_SUB = simd(0xe5);
const F32X4_MUL = simd(0xe6);
const PMIN = simd(0xea);
const PMAX = simd(0xeb);
const QUARTERS = [0, 16, 32, 48];

/** `while (cond) body`: `cond` leaves an i32 on the stack. */
function whileLoop(cond: number[], body: number[]): number[] {
  return [0x02, 0x40, 0x03, 0x40, ...cond, 0x45, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b];
}
const increment = (local: number, by: number): number[] => [...get(local), ...i32(by), ...ADD, ...set(local)];
const less = (a: number, b: number): number[] => [...get(a), ...get(b), ...LT_U];
/** `base + index · 64`: the address of one scratch row of 16 floats. */
const scratchRow = (base: number, index: number[]): number[] => [...get(base), ...index, ...i32(6), ...SHL, ...ADD];

function sortGroup(): number[] {
  const [rowTable, rowEnd, col4, scratch, net, netEnd, p, src, dst, a, b, x, y] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const gather = QUARTERS.flatMap((q) => [...get(dst), ...get(src), ...LOAD(q), ...STORE(q)]);
  const compare = QUARTERS.flatMap((q) => [
    ...get(a), ...LOAD(q), ...set(x),
    ...get(b), ...LOAD(q), ...set(y),
    ...get(a), ...get(x), ...get(y), ...PMIN, ...STORE(q),
    ...get(b), ...get(x), ...get(y), ...PMAX, ...STORE(q),
  ]);
  const code = [
    ...get(rowTable), ...set(p), ...get(scratch), ...set(dst),
    ...whileLoop(less(p, rowEnd), [...get(p), ...I32_LOAD(0), ...get(col4), ...ADD, ...set(src), ...gather, ...increment(p, 4), ...increment(dst, 64)]),
    ...get(net), ...set(p),
    ...whileLoop(less(p, netEnd), [...get(p), ...I32_LOAD(0), ...set(a), ...get(p), ...I32_LOAD(4), ...set(b), ...compare, ...increment(p, 8)]),
  ];
  return [...vec([[5, I32], [2, V128]]), ...code, 0x0b];
}

function sumRanks(): number[] {
  const [from, to, scale, out, s, p] = [0, 1, 2, 3, 4, 5];
  const acc = [6, 7, 8, 9];
  const fold = QUARTERS.flatMap((q, k) => [...get(acc[k]!), ...get(p), ...LOAD(q), ...get(s), ...F32X4_MUL, ...F32X4_ADD, ...set(acc[k]!)]);
  const code = [
    ...get(scale), ...F32X4_SPLAT, ...set(s), ...get(from), ...set(p),
    ...whileLoop(less(p, to), [...fold, ...increment(p, 64)]),
    ...QUARTERS.flatMap((q, k) => [...get(out), ...get(acc[k]!), ...STORE(q)]),
  ];
  return [...vec([[1, V128], [1, I32], [4, V128]]), ...code, 0x0b];
}

function closestMean(): number[] {
  const [scratch, theta, beta, lo, hi, scale, out] = [0, 1, 2, 3, 4, 5, 6];
  const [q, r, lim, base] = [7, 8, 9, 10];
  const [m, t, acc, half, sc, betaV, rv] = [11, 12, 13, 14, 15, 16, 17];
  const row = (index: number[]): number[] => [...scratchRow(base, index), ...LOAD(0)];
  // t counts, per lane, the windows [r, r+β) that the next one beats: m − s[r] > s[r+β] − m.
  const shift = [
    ...get(t),
    ...get(m), ...row(get(r)), ...F32X4_SUB,
    ...row([...get(r), ...get(beta), ...ADD]), ...get(m), ...F32X4_SUB,
    ...F32X4_GT, ...I32X4_SUB, ...set(t),
    ...increment(r, 1),
  ];
  const fold = [
    ...get(r), ...I32X4_SPLAT, ...set(rv),
    ...get(acc),
    ...row(get(r)), ...get(sc), ...F32X4_MUL,
    ...get(rv), ...get(t), ...I32X4_GE_S,
    ...get(rv), ...get(t), ...get(betaV), ...I32X4_ADD, ...I32X4_LT_S,
    ...AND, ...AND, ...F32X4_ADD, ...set(acc),
    ...increment(r, 1),
  ];
  const perQuarter = [
    ...get(scratch), ...get(q), ...ADD, ...set(base),
    ...row(get(lo)), ...get(half), ...F32X4_MUL, ...row(get(hi)), ...get(half), ...F32X4_MUL, ...F32X4_ADD, ...set(m),
    ...ZERO, ...set(t), ...ZERO, ...set(acc),
    ...i32(0), ...set(r), ...get(theta), ...get(beta), 0x6b, ...set(lim),
    ...whileLoop(less(r, lim), shift),
    ...i32(0), ...set(r),
    ...whileLoop(less(r, theta), fold),
    ...get(out), ...get(q), ...ADD, ...get(acc), ...STORE(0),
    ...increment(q, 16),
  ];
  const code = [
    ...f32(0.5), ...F32X4_SPLAT, ...set(half), ...get(scale), ...F32X4_SPLAT, ...set(sc), ...get(beta), ...I32X4_SPLAT, ...set(betaV),
    ...whileLoop([...get(q), ...i32(64), ...LT_U], perQuarter),
  ];
  return [...vec([[4, I32], [7, V128]]), ...code, 0x0b];
}

/**
 * Squared distances of 2 × 2 rows at a time: each block entry (32 bytes) holds the byte
 * addresses a0, a1, b0, b1 and `out`, where four f64 sums (a0·b0, a0·b1, a1·b0, a1·b1) grow.
 * Four loads feed four differences, so each pair costs one load instead of two (the 1 × 1
 * loop was load-bound).
 */
function distanceBlocks(): number[] {
  const [table, tableEnd, col4, len4] = [0, 1, 2, 3];
  const [p, a0, a1, b0, b1, k, outp] = [4, 5, 6, 7, 8, 9, 10];
  const [x0, x1, y0, y1, d] = [11, 12, 13, 14, 15];
  const acc = [16, 17, 18, 19];
  const address = (offset: number): number[] => [...get(p), ...I32_LOAD(offset), ...get(col4), ...ADD];
  const load = (base: number, into: number, offset: number): number[] => [...get(base), ...get(k), ...ADD, ...LOAD(offset), ...set(into)];
  const square = (x: number, y: number, into: number): number[] => [
    ...get(x), ...get(y), ...F32X4_SUB, ...set(d),
    ...get(into), ...get(d), ...get(d), ...F32X4_MUL, ...F32X4_ADD, ...set(into),
  ];
  // Two vectors per iteration (len4 is a multiple of 64): half the loop and address overhead.
  const half = (offset: number): number[] => [
    ...load(a0, x0, offset), ...load(a1, x1, offset), ...load(b0, y0, offset), ...load(b1, y1, offset),
    ...square(x0, y0, acc[0]!), ...square(x0, y1, acc[1]!), ...square(x1, y0, acc[2]!), ...square(x1, y1, acc[3]!),
  ];
  const step = [...half(0), ...half(16), ...increment(k, 32)];
  const lanes = (v: number): number[] => [0, 1, 2, 3].flatMap((lane) => [...get(v), ...EXTRACT(lane), ...F64_PROMOTE, ...(lane > 0 ? F64_ADD : [])]);
  const flush = acc.flatMap((v, q) => [
    ...get(outp), ...get(outp), ...F64_LOAD(8 * q), ...lanes(v), ...F64_ADD, ...F64_STORE(8 * q),
  ]);
  const block = [
    ...address(0), ...set(a0), ...address(4), ...set(a1), ...address(8), ...set(b0), ...address(12), ...set(b1),
    ...get(p), ...I32_LOAD(16), ...set(outp),
    ...acc.flatMap((v) => [...ZERO, ...set(v)]),
    ...i32(0), ...set(k),
    ...whileLoop(less(k, len4), step),
    ...flush,
    ...increment(p, 32),
  ];
  const code = [...get(table), ...set(p), ...whileLoop(less(p, tableEnd), block)];
  return [...vec([[7, I32], [9, V128]]), ...code, 0x0b];
}

function funcType(params: number[]): number[] {
  return [0x60, ...vec(params.map((p) => [p])), ...vec([])];
}

function assemble(): Uint8Array<ArrayBuffer> {
  const bodies = [sortGroup(), sumRanks(), closestMean(), distanceBlocks()];
  const exports = ['sortGroup', 'sumRanks', 'closestMean', 'distanceBlocks'];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([
      funcType([I32, I32, I32, I32, I32, I32]),
      funcType([I32, I32, F32, I32]),
      funcType([I32, I32, I32, I32, I32, F32, I32]),
      funcType([I32, I32, I32, I32]),
    ])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])),
    ...section(3, vec([[0], [1], [2], [3]])),
    ...section(7, vec(exports.map((e, k) => [...name(e), 0x00, k]))),
    ...section(10, vec(bodies.map((body) => [...uleb(body.length), ...body]))),
  ];
  return new Uint8Array(bytes);
}

/** The robust kernels' module bytes; `WebAssembly.validate` on them is the feature test. */
export const ROBUST_KERNELS_WASM: Uint8Array<ArrayBuffer> = assemble();
