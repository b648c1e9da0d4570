/**
 * The WebAssembly SIMD weighted-accumulate kernel, assembled by hand into bytes.
 *
 * Why bytes in a TS module: the kernel is one small function, and shipping it this way needs
 * no toolchain, no build step and no fetch of a `.wasm` file, so it works the same in Node,
 * browsers and bundlers. The module is small enough (well under the 4 KB limit browsers
 * put on synchronous compilation) to be compiled with `new WebAssembly.Module`.
 *
 * The module imports its memory as `env.memory` and exports one function:
 *
 *     accumulate(dst: i32, src: i32, n: i32, w: f32)
 *
 * which does `dst[i] = dst[i] + src[i] * w` for `i < n` (byte addresses `dst`, `src`, `n`
 * float32 counts) with no fused multiply-add: one f32 multiply rounded, then one f32 add
 * rounded. It walks 16 floats (four `v128`s) per iteration, then single vectors, then scalars.
 */

// Opcodes, from the WebAssembly core spec (2.0) and its fixed-width SIMD extension.
const BLOCK = 0x02;
const LOOP = 0x03;
const BR = 0x0c;
const BR_IF = 0x0d;
const END = 0x0b;
const VOID = 0x40;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_CONST = 0x41;
const I32_GE_U = 0x4f;
const I32_ADD = 0x6a;
const I32_AND = 0x71;
const I32_SHL = 0x74;
const F32_LOAD = 0x2a;
const F32_STORE = 0x38;
const F32_ADD = 0x92;
const F32_MUL = 0x94;
const SIMD = 0xfd;
const V128_LOAD = [SIMD, 0x00];
const V128_STORE = [SIMD, 0x0b];
const F32X4_SPLAT = [SIMD, 0x13];
const F32X4_ADD = [SIMD, 0xe4, 0x01]; // opcode 228 as unsigned LEB128
const F32X4_MUL = [SIMD, 0xe6, 0x01]; // opcode 230
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

// Parameters and locals of `accumulate`, by index.
const DST = 0;
const SRC = 1;
const N = 2;
const W = 3;
const WS = 4; // v128: w splatted to four lanes
const END_PTR = 5; // i32: where the current loop stops reading `src`

/** Unsigned LEB128, as the binary format encodes sizes, counts and memarg offsets. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** Signed LEB128, for i32.const immediates (small values only here). */
export function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

export function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

export function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

export function name(text: string): number[] {
  return vec([...text].map((c) => [c.charCodeAt(0)]));
}

/** `dst[k..k+4] = dst[k..k+4] + src[k..k+4] * ws` at byte offset `offset` from both pointers. */
function vectorStep(offset: number): number[] {
  const memarg = [4, ...uleb(offset)]; // alignment hint 2^4 = 16 bytes
  return [
    LOCAL_GET, DST,
    LOCAL_GET, DST, ...V128_LOAD, ...memarg,
    LOCAL_GET, SRC, ...V128_LOAD, ...memarg,
    LOCAL_GET, WS, ...F32X4_MUL,
    ...F32X4_ADD,
    ...V128_STORE, ...memarg,
  ];
}

function scalarStep(): number[] {
  return [
    LOCAL_GET, DST,
    LOCAL_GET, DST, F32_LOAD, 2, 0,
    LOCAL_GET, SRC, F32_LOAD, 2, 0,
    LOCAL_GET, W, F32_MUL,
    F32_ADD,
    F32_STORE, 2, 0,
  ];
}

/** `END_PTR += (n & mask) * 4`: the end of the next stretch of `src`. */
function advanceEnd(mask: number): number[] {
  return [LOCAL_GET, END_PTR, LOCAL_GET, N, I32_CONST, ...sleb(mask), I32_AND, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, END_PTR];
}

/** `while (src < END_PTR) { body; dst += stride; src += stride }` */
function loop(body: number[], strideBytes: number): number[] {
  const bump = (local: number): number[] => [LOCAL_GET, local, I32_CONST, ...sleb(strideBytes), I32_ADD, LOCAL_SET, local];
  return [
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, SRC, LOCAL_GET, END_PTR, I32_GE_U, BR_IF, 1,
    ...body,
    ...bump(DST), ...bump(SRC),
    BR, 0,
    END, END,
  ];
}

function accumulateBody(): number[] {
  const code = [
    LOCAL_GET, W, ...F32X4_SPLAT, LOCAL_SET, WS,
    LOCAL_GET, SRC, LOCAL_SET, END_PTR,
    ...advanceEnd(-16),
    ...loop([...vectorStep(0), ...vectorStep(16), ...vectorStep(32), ...vectorStep(48)], 64),
    ...advanceEnd(12),
    ...loop(vectorStep(0), 16),
    ...advanceEnd(3),
    ...loop(scalarStep(), 4),
    END,
  ];
  const locals = vec([[1, V128], [1, I32]]);
  return [...locals, ...code];
}

function assemble(): Uint8Array<ArrayBuffer> {
  const body = accumulateBody();
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [F32]]), ...vec([])]])), // type 0: (i32 i32 i32 f32) -> ()
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])), // import memory, min 1 page, no max
    ...section(3, vec([[0]])), // function 0 has type 0
    ...section(7, vec([[...name('accumulate'), 0x00, 0]])), // export function 0
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ];
  return new Uint8Array(bytes);
}

/** The kernel module's bytes. `WebAssembly.validate` on them doubles as the SIMD feature test. */
export const WEIGHTED_ACCUMULATE_WASM: Uint8Array<ArrayBuffer> = assemble();
