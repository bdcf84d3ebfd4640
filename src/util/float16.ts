/**
 * IEEE 754 half-precision (float16) <-> float32 conversion for embeddings held as raw `Uint16Array`
 * bits (Node 20 has no Float16Array). Decoding is a 65,536-entry table lookup; encoding rounds to
 * nearest-even like numpy's `astype(np.float16)`, so files we write match files numpy writes.
 */

let table: Float32Array | undefined;

/** The decode table, built on first use (256 KiB). */
export function f16Table(): Float32Array {
  if (table) return table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = decodeOne(h);
  table = t;
  return t;
}

function decodeOne(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Decode `src` float16 bits into float32 values (into `dst` when given; it must be at least as long). */
export function f16ToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = f16Table();
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = t[src[i]];
  return dst;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Encode one number as float16 bits, rounding to nearest-even (overflow to ±Inf, NaN kept NaN). */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  return bitsToHalf(u32Scratch[0]);
}

function bitsToHalf(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and reaches Inf at the top).
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return half;
}

/** Encode float32 values as float16 bits (into `dst` when given). */
export function f32ToF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = bitsToHalf(u[i]);
  return dst;
}

/** Decode one float16 bit pattern. */
export function f16BitsToF32(h: number): number {
  return f16Table()[h & 0xffff]!;
}

/** `dim` floats from `src[offset..]` as little-endian float16 bytes (the Parquet `*_embedding` cell). */
export function packFloat16(src: Float32Array, offset = 0, dim = src.length - offset): Uint8Array {
  const out = new Uint8Array(dim * 2);
  for (let i = 0; i < dim; i++) {
    const h = f32ToF16Bits(src[offset + i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

/** The inverse of `packFloat16`. */
export function unpackFloat16(bytes: Uint8Array): Float32Array {
  const t = f16Table();
  const n = bytes.length >>> 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = t[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  return out;
}
