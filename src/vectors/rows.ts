/**
 * Embedding rows as the vector engine holds them (float16 bits or float32, plus inverse norms) and the small
 * per-row operations k-means needs around the native products: norms, dot products, sums, gathers.
 */
import { f16Table } from '../util/float16.js';
import type { NpyArray } from '../util/npy.js';
import { Rng, sampleSorted } from './rng.js';

/**
 * Vectors as stored (float16 bits or float32) with their inverse L2 norms, so float16 data is used
 * exactly as read and normalised on the fly (x̂ = x * invNorm).
 */
export interface Matrix {
  data: NpyArray;
  rows: number;
  dim: number;
  invNorm: Float32Array;
}

/** Inverse L2 norm of each row (0 for a zero or non-finite row, which callers reject beforehand). */
export function inverseNorms(data: NpyArray, rows: number, dim: number, out = new Float32Array(rows)): Float32Array {
  const t = data instanceof Uint16Array ? f16Table() : undefined;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const o = r * dim;
    if (t) for (let j = 0; j < dim; j++) { const v = t[(data as Uint16Array)[o + j]]; s += v * v; }
    else for (let j = 0; j < dim; j++) { const v = (data as Float32Array)[o + j]; s += v * v; }
    out[r] = s > 0 && Number.isFinite(s) ? 1 / Math.sqrt(s) : 0;
  }
  return out;
}

/** L2-normalise each row in place (a zero row stays zero). */
export function normaliseRows(m: Float32Array, rows: number, d: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += m[r * d + j] * m[r * d + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) m[r * d + j] *= inv;
  }
}

/** Clamp a cosine computed in float arithmetic into [-1, 1] before acos. */
export function clampCos(v: number): number {
  return v > 1 ? 1 : v < -1 ? -1 : v;
}

/** Row `r` of `x`, normalised, as float32, into `out` at `offset`. */
export function rowInto(x: Matrix, r: number, out: Float32Array, offset: number): void {
  const d = x.dim;
  const w = x.invNorm[r];
  if (x.data instanceof Uint16Array) {
    const t = f16Table();
    for (let j = 0; j < d; j++) out[offset + j] = t[x.data[r * d + j]] * w;
  } else {
    for (let j = 0; j < d; j++) out[offset + j] = x.data[r * d + j] * w;
  }
}

/** Cosine of row r (normalised) with centroid c. */
export function rowDot(x: Matrix, r: number, cent: Float32Array, c: number): number {
  const d = x.dim;
  let s = 0;
  const o = r * d, co = c * d;
  if (x.data instanceof Uint16Array) {
    const t = f16Table();
    const data = x.data;
    for (let j = 0; j < d; j++) s += t[data[o + j]] * cent[co + j];
  } else {
    const data = x.data;
    for (let j = 0; j < d; j++) s += data[o + j] * cent[co + j];
  }
  return s * x.invNorm[r];
}

/** sums[c] += sign * row r (normalised). */
export function addRow(x: Matrix, r: number, sums: Float64Array, c: number, sign: number): void {
  const d = x.dim;
  const w = x.invNorm[r] * sign;
  const o = r * d, s = c * d;
  if (x.data instanceof Uint16Array) {
    const t = f16Table();
    const data = x.data;
    for (let j = 0; j < d; j++) sums[s + j] += t[data[o + j]] * w;
  } else {
    const data = x.data;
    for (let j = 0; j < d; j++) sums[s + j] += data[o + j] * w;
  }
}

/** Copy rows `idx` of `src` into `dst`, one typed-array type per call (keeps V8 monomorphic). */
export function gatherRows(src: NpyArray, idx: Int32Array, d: number, dst: NpyArray): void {
  if (src instanceof Uint16Array) gather16(src, idx, d, dst as Uint16Array);
  else gather32(src, idx, d, dst as Float32Array);
}
function gather16(src: Uint16Array, idx: Int32Array, d: number, dst: Uint16Array): void {
  for (let t = 0; t < idx.length; t++) dst.set(src.subarray(idx[t] * d, idx[t] * d + d), t * d);
}
function gather32(src: Float32Array, idx: Int32Array, d: number, dst: Float32Array): void {
  for (let t = 0; t < idx.length; t++) dst.set(src.subarray(idx[t] * d, idx[t] * d + d), t * d);
}

/** A seeded subset of `m` rows (kept in input order), copied out. */
export function subsample(x: Matrix, m: number, rng: Rng): Matrix {
  const idx = sampleSorted(x.rows, m, rng);
  const d = x.dim;
  const data = x.data instanceof Uint16Array ? new Uint16Array(m * d) : new Float32Array(m * d);
  const invNorm = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    const r = idx[i];
    data.set(x.data.subarray(r * d, r * d + d), i * d);
    invNorm[i] = x.invNorm[r];
  }
  return { data, rows: m, dim: d, invNorm };
}
