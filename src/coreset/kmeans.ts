/**
 * Spherical k-means as faiss runs it (`faiss.Kmeans(d, k, spherical=True)`): subsample to
 * `maxPointsPerCentroid` x k training points, initial centroids drawn from them (random, as faiss,
 * or k-means++), `niter` rounds of assign / average / split empty clusters / L2-normalise. The
 * assignment is the NearestCentroid kernel (native sgemm); only the centroid sums are JavaScript.
 */
import { UsageError } from '../errors.js';
import { f16Table } from '../util/float16.js';
import type { NpyArray } from '../util/npy.js';
import { NearestCentroid, ProductKernel, CHUNK_ROWS, type KernelOptions } from './matmul.js';
import { Rng, randomPick, sampleSorted } from './rng.js';

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

export interface KMeansOptions extends KernelOptions {
  k: number;
  /** Rounds of assign + update (faiss default 25; Bunny's scripts and our recipes use 10). */
  niter?: number;
  seed?: number;
  init?: 'random' | 'kmeans++';
  /** Training points are subsampled to this many per centroid (faiss default 256). */
  maxPointsPerCentroid?: number;
  /** Called after each round with the sum of cosines of the round's assignment. */
  onIteration?: (iteration: number, objective: number, emptySplit: number) => void;
}

export interface KMeansResult {
  /** k x d, row-major, each row L2-normalised. */
  centroids: Float32Array;
  k: number;
  dim: number;
  /** Sum over training points of the cosine to their centroid, one per round (faiss's `obj`). */
  objective: number[];
  /** Empty clusters re-seeded by splitting a large one, per round. */
  splits: number[];
  trainingPoints: number;
}

const SPLIT_EPS = 1 / 1024; // faiss's symmetric perturbation when it splits a cluster

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

/** Train spherical k-means centroids on `x` (already a sample, or subsampled here as faiss does). */
export async function trainSpherical(x: Matrix, opts: KMeansOptions): Promise<KMeansResult> {
  const { k, dim: d } = { k: opts.k, dim: x.dim };
  const niter = opts.niter ?? 10;
  const rng = new Rng(opts.seed ?? 1, 1);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--k must be a positive integer, got ${k}`);
  if (k > x.rows) throw new UsageError(`--k ${k} is larger than the number of vectors to cluster (${x.rows}); use --k ${x.rows} or fewer`);
  const maxPts = (opts.maxPointsPerCentroid ?? 256) * k;
  const train = x.rows > maxPts ? subsample(x, maxPts, rng) : x;

  let centroids = opts.init === 'kmeans++' ? await kmeansPlusPlus(train, k, rng, opts) : randomInit(train, k, rng);
  const objective: number[] = [];
  const splits: number[] = [];
  const label = new Int32Array(CHUNK_ROWS);
  const best = new Float32Array(CHUNK_ROWS);
  const input = train.data instanceof Uint16Array ? 'float16' : 'float32';
  for (let it = 0; it < niter; it++) {
    const kernel = await NearestCentroid.create(centroids, k, d, input, opts);
    const sums = new Float64Array(k * d);
    const counts = new Float64Array(k);
    let obj = 0;
    try {
      for (let r0 = 0; r0 < train.rows; r0 += CHUNK_ROWS) {
        const n = Math.min(CHUNK_ROWS, train.rows - r0);
        await kernel.search(train.data.subarray(r0 * d, (r0 + n) * d), n, label, best);
        obj += accumulate(train, r0, n, label, best, sums, counts);
      }
    } finally {
      await kernel.release();
    }
    const next = new Float32Array(k * d);
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue;
      const inv = 1 / counts[c];
      for (let j = 0; j < d; j++) next[c * d + j] = sums[c * d + j] * inv;
    }
    const split = splitEmpty(next, counts, k, d, train.rows, rng);
    normaliseRows(next, k, d);
    centroids = next;
    objective.push(obj);
    splits.push(split);
    opts.onIteration?.(it, obj, split);
  }
  return { centroids, k, dim: d, objective, splits, trainingPoints: train.rows };
}

/** Add each row (normalised) to its centroid's sum; returns the chunk's sum of cosines. */
function accumulate(x: Matrix, r0: number, n: number, label: Int32Array, best: Float32Array, sums: Float64Array, counts: Float64Array): number {
  const d = x.dim;
  let obj = 0;
  if (x.data instanceof Uint16Array) {
    const t = f16Table();
    const data = x.data;
    for (let r = 0; r < n; r++) {
      const w = x.invNorm[r0 + r];
      const c = label[r];
      counts[c]++;
      obj += best[r] * w;
      const o = (r0 + r) * d;
      const s = c * d;
      for (let j = 0; j < d; j++) sums[s + j] += t[data[o + j]] * w;
    }
  } else {
    const data = x.data;
    for (let r = 0; r < n; r++) {
      const w = x.invNorm[r0 + r];
      const c = label[r];
      counts[c]++;
      obj += best[r] * w;
      const o = (r0 + r) * d;
      const s = c * d;
      for (let j = 0; j < d; j++) sums[s + j] += data[o + j] * w;
    }
  }
  return obj;
}

/**
 * faiss's `split_clusters`: an empty cluster takes a copy of a cluster chosen with probability
 * proportional to its size, both nudged apart by ±1/1024 on alternating coordinates.
 */
function splitEmpty(cent: Float32Array, counts: Float64Array, k: number, d: number, n: number, rng: Rng): number {
  let nsplit = 0;
  for (let ci = 0; ci < k; ci++) {
    if (counts[ci] !== 0) continue;
    let cj = 0;
    for (;; cj = (cj + 1) % k) {
      const p = (counts[cj] - 1) / (n - k);
      if (rng.float() < p) break;
    }
    cent.copyWithin(ci * d, cj * d, cj * d + d);
    for (let j = 0; j < d; j++) {
      const up = j % 2 === 0;
      cent[ci * d + j] *= up ? 1 + SPLIT_EPS : 1 - SPLIT_EPS;
      cent[cj * d + j] *= up ? 1 - SPLIT_EPS : 1 + SPLIT_EPS;
    }
    counts[ci] = Math.floor(counts[cj] / 2);
    counts[cj] -= counts[ci];
    nsplit++;
  }
  return nsplit;
}

export function normaliseRows(m: Float32Array, rows: number, d: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += m[r * d + j] * m[r * d + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) m[r * d + j] *= inv;
  }
}

/** Row `r` of `x`, normalised, as float32, into `out` at `offset`. */
function rowInto(x: Matrix, r: number, out: Float32Array, offset: number): void {
  const d = x.dim;
  const w = x.invNorm[r];
  if (x.data instanceof Uint16Array) {
    const t = f16Table();
    for (let j = 0; j < d; j++) out[offset + j] = t[x.data[r * d + j]] * w;
  } else {
    for (let j = 0; j < d; j++) out[offset + j] = x.data[r * d + j] * w;
  }
}

function randomInit(x: Matrix, k: number, rng: Rng): Float32Array {
  const pick = randomPick(x.rows, k, rng);
  const c = new Float32Array(k * x.dim);
  for (let i = 0; i < k; i++) rowInto(x, pick[i], c, i * x.dim);
  return c;
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

/**
 * k-means++ seeding (D² sampling with the spherical distance 2 - 2cos) over a pool of at most 8k
 * training points: it is sequential in k, so it suits k up to a few thousand; faiss's random init
 * is the default.
 */
async function kmeansPlusPlus(x: Matrix, k: number, rng: Rng, opts: KernelOptions): Promise<Float32Array> {
  const pool = x.rows > 8 * k ? subsample(x, 8 * k, rng) : x;
  const d = x.dim;
  const n = pool.rows;
  const c = new Float32Array(k * d);
  const dist = new Float64Array(n).fill(Infinity);
  const kernel = await ProductKernel.create(d, pool.data instanceof Uint16Array ? 'float16' : 'float32', opts);
  try {
    let pick = rng.below(n);
    for (let i = 0; i < k; i++) {
      rowInto(pool, pick, c, i * d);
      if (i === k - 1) break;
      const dots = await kernel.product(pool.data, n, c.subarray(i * d, i * d + d), 1);
      let total = 0;
      for (let r = 0; r < n; r++) {
        const dr = Math.max(0, 2 - 2 * dots[r] * pool.invNorm[r]);
        if (dr < dist[r]) dist[r] = dr;
        total += dist[r];
      }
      if (!(total > 0)) {
        pick = rng.below(n); // every point coincides with a centre: any further pick is as good
        continue;
      }
      let u = rng.float() * total;
      pick = n - 1;
      for (let r = 0; r < n; r++) {
        u -= dist[r];
        if (u < 0) {
          pick = r;
          break;
        }
      }
    }
  } finally {
    await kernel.release();
  }
  return c;
}

/**
 * Assign every row of `x` to its nearest centroid: label and cosine. For data that fits in memory;
 * the coreset pipeline streams from files with the same kernel.
 */
export async function assign(x: Matrix, centroids: Float32Array, k: number, opts: KernelOptions = {}): Promise<{ label: Int32Array; sim: Float32Array }> {
  const label = new Int32Array(x.rows);
  const sim = new Float32Array(x.rows);
  const kernel = await NearestCentroid.create(centroids, k, x.dim, x.data instanceof Uint16Array ? 'float16' : 'float32', opts);
  try {
    await kernel.search(x.data, x.rows, label, sim);
  } finally {
    await kernel.release();
  }
  for (let r = 0; r < x.rows; r++) sim[r] *= x.invNorm[r];
  return { label, sim };
}
