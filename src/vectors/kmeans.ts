/**
 * Spherical k-means as faiss runs it (`faiss.Kmeans(d, k, spherical=True)`): subsample to
 * `maxPointsPerCentroid` x k training points, initial centroids drawn from them (random, as faiss,
 * or k-means++), `niter` rounds of assign / average / split empty clusters / L2-normalise. The
 * assignment is the NearestCentroid kernel (native sgemm); only the centroid sums are JavaScript.
 */
import { UsageError } from '../errors.js';
import { kmeansPlusPlus, randomInit } from './kmeans-init.js';
import { GroupedNearest, NearestCentroid, CHUNK_ROWS, type KernelOptions } from './kernels.js';
import { Rng } from './rng.js';
import { addRow, clampCos, gatherRows, normaliseRows, rowDot, subsample, type Matrix } from './rows.js';

export { inverseNorms, normaliseRows, subsample, type Matrix } from './rows.js';

export interface KMeansOptions extends KernelOptions {
  k: number;
  /** Rounds of assign + update (faiss default 25; Bunny's scripts and our recipes use 10). */
  niter?: number;
  seed?: number;
  init?: 'random' | 'kmeans++';
  /** Groups of centroids for the skip bounds (default about 16, see groupSize; 1 is Hamerly's single bound). */
  boundGroups?: number;
  /** Start from these centroids (k x d; a warm start, as Bunny did over its successive samples). */
  initialCentroids?: Float32Array;
  /** Training points are subsampled to this many per centroid (faiss default 256). */
  maxPointsPerCentroid?: number;
  /** Called after each round: sum of cosines over the points searched, clusters split, points searched. */
  onIteration?: (iteration: number, objective: number, emptySplit: number, searched: number) => void;
}

export interface KMeansResult {
  /** k x d, row-major, each row L2-normalised. */
  centroids: Float32Array;
  k: number;
  dim: number;
  /**
   * Per round, the sum of cosines over the points searched that round: faiss's `obj` for round 0;
   * later rounds skip points whose cluster cannot change (see `searched`). The exact inertia comes
   * from assigning all points to the final centroids.
   */
  /** Per round, over the points that round searched (the bounds spare the rest). */
  objective: number[];
  /** The last round's objective over every training point: faiss's last `obj`. */
  finalObjective?: number;
  /** Points searched per round (the rest were proven not to move). */
  searched: number[];
  /**
   * Per training point (when no subsampling happened here), its nearest final centroid where the
   * bounds prove it, else -1: those points need no search when every row is assigned afterwards.
   */
  finalLabel?: Int32Array;
  /** Empty clusters re-seeded by splitting a large one, per round. */
  splits: number[];
  trainingPoints: number;
}

const SPLIT_EPS = 1 / 1024; // faiss's symmetric perturbation when it splits a cluster

/**
 * Train spherical k-means centroids on `x` (already a sample, or subsampled here as faiss does).
 *
 * Lloyd's iterations, made cheaper with Yinyang bounds (Ding et al., ICML 2015) in angle space, where
 * the angle between unit vectors is a metric: each point keeps an upper bound on its angle to its own
 * centroid and, per group of centroids, a lower bound on its angle to any other centroid of the group.
 * When centroids move by δ the bounds loosen by δ (the group's largest), and a point whose upper bound
 * stays under every group's lower bound cannot change cluster, so it is not searched. The result is
 * Lloyd's, not an approximation; once centroids settle most points are skipped, and a few centroids
 * jumping (an empty cluster re-seeded) only loosen their own group.
 */
export async function trainSpherical(x: Matrix, opts: KMeansOptions): Promise<KMeansResult> {
  const k = opts.k;
  const d = x.dim;
  const niter = opts.niter ?? 10;
  const rng = new Rng(opts.seed ?? 1, 1);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--k must be a positive integer, got ${k}`);
  if (x.rows === 0) throw new UsageError('there are no vectors to cluster');
  if (k > x.rows) throw new UsageError(`--k ${k} is larger than the number of vectors to cluster (${x.rows}); use --k ${x.rows} or fewer`);
  const maxPts = (opts.maxPointsPerCentroid ?? 256) * k;
  const train = x.rows > maxPts ? subsample(x, maxPts, rng) : x;
  const n = train.rows;

  let centroids: Float32Array;
  if (opts.initialCentroids) {
    if (opts.initialCentroids.length !== k * d) throw new UsageError(`initial centroids hold ${opts.initialCentroids.length} values, expected ${k} x ${d}`);
    centroids = Float32Array.from(opts.initialCentroids);
    normaliseRows(centroids, k, d);
  } else centroids = opts.init === 'kmeans++' ? await kmeansPlusPlus(train, k, rng, opts) : randomInit(train, k, rng);

  const size = opts.boundGroups ? Math.ceil(k / Math.min(k, opts.boundGroups)) : groupSize(k);
  const t = Math.ceil(k / size); // groups: centroids [j·size, (j+1)·size)
  const label = new Int32Array(n).fill(-1);
  const upper = new Float64Array(n); // angle to own centroid, at most
  const lower = new Float32Array(n * t); // angle to any other centroid of group j, at least
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  const objective: number[] = [];
  const splits: number[] = [];
  const searchedPerRound: number[] = [];
  const input = train.data instanceof Uint16Array ? 'float16' : 'float32';
  const todo = new Int32Array(n);
  const buf = input === 'float16' ? new Uint16Array(CHUNK_ROWS * d) : new Float32Array(CHUNK_ROWS * d);
  let delta: Float64Array = new Float64Array(k);
  const groupDelta = new Float64Array(t);
  let rescueRate = 1, tightenCost = 0, searchCost = 0; // ms per point
  let finalObjective: number | undefined;
  for (let it = 0; it < niter; it++) {
    // Which points need a search this round.
    let m = 0;
    if (it === 0) for (let r = 0; r < n; r++) todo[m++] = r;
    else {
      // Centroids that jumped (further than JUMP) would loosen every point's bounds by their jump:
      // compare every point with them exactly instead (one thin product), and loosen the bounds only
      // by the others' movement. Worth it while they are a small share of the centroids.
      let jumped = 0;
      for (let c = 0; c < k; c++) if (delta[c] > JUMP) jumped++;
      const useJ = jumped > 0 && jumped <= k / 4;
      const isJ = new Uint8Array(k);
      const groupHasJ = new Uint8Array(t);
      let jBest: Float32Array | undefined, jIdx: Int32Array | undefined, jList: Int32Array | undefined;
      if (useJ) {
        jList = new Int32Array(jumped);
        for (let c = 0, q = 0; c < k; c++) if (delta[c] > JUMP) {
          jList[q++] = c;
          isJ[c] = 1;
          groupHasJ[(c / size) | 0] = 1;
        }
        ({ best: jBest, label: jIdx } = await nearestAmong(train, centroids, jList, opts));
      }
      const jTop = useJ ? Math.min(2, jumped) : 0;
      groupDelta.fill(0);
      for (let c = 0; c < k; c++) {
        const j = (c / size) | 0;
        if (!isJ[c] && delta[c] > groupDelta[j]) groupDelta[j] = delta[c];
      }
      // Tightening (one exact dot product in JavaScript) pays when it spares enough searches; the
      // last round's rescue rate and the measured costs decide.
      // When it does not pay, every 16th candidate is still tightened, to notice when it starts to.
      const tighten = tightenCost === 0 || rescueRate * searchCost > tightenCost;
      let tried = 0, rescued = 0, probe = 0;
      const t0 = performance.now();
      for (let r = 0; r < n; r++) {
        const a = label[r];
        upper[r] += delta[a];
        let lo = Infinity;
        const o = r * t;
        let thJ = Infinity;
        if (useJ) {
          // Exact angle to the nearest jumped centroid other than the point's own.
          const first = jList![jIdx![r * jTop]];
          const v = first === a ? (jTop === 2 ? jBest![r * jTop + 1] : -1) : jBest![r * jTop];
          thJ = Math.acos(clampCos(v * train.invNorm[r]));
        }
        for (let j = 0; j < t; j++) {
          let v = lower[o + j] - groupDelta[j];
          if (groupHasJ[j] && thJ < v) v = thJ;
          lower[o + j] = v;
          if (v < lo) lo = v;
        }
        if (upper[r] + BOUND_MARGIN < lo) continue;
        if (tighten || isJ[a] || (probe++ & 15) === 0) {
          tried++;
          upper[r] = Math.acos(clampCos(rowDot(train, r, centroids, a)));
          if (upper[r] + BOUND_MARGIN < lo) {
            rescued++;
            continue;
          }
        }
        todo[m++] = r;
      }
      if (tried > 0) {
        rescueRate = rescued / tried;
        tightenCost = (performance.now() - t0) / tried;
      }
    }
    searchedPerRound.push(m);
    const tSearch = performance.now();
    let obj = 0;
    const kernel = await GroupedNearest.create(centroids, k, d, input, t, opts);
    try {
      for (let c0 = 0; c0 < m; c0 += CHUNK_ROWS) {
        const cn = Math.min(CHUNK_ROWS, m - c0);
        // All points in order (round 0, or nothing skipped): search in place, no gather.
        const inPlace = m === n;
        if (!inPlace) gatherRows(train.data, todo.subarray(c0, c0 + cn), d, buf);
        const { best, label: idx, runner } = await kernel.run(inPlace ? train.data.subarray(c0 * d, (c0 + cn) * d) : buf, cn);
        for (let q = 0; q < cn; q++) {
          const r = todo[c0 + q];
          const w = train.invNorm[r];
          const o = q * t;
          let ja = 0;
          for (let j = 1; j < t; j++) if (best[o + j] > best[o + ja]) ja = j;
          const a = ja * size + idx[o + ja];
          const s1 = best[o + ja] * w;
          obj += s1;
          upper[r] = Math.acos(clampCos(s1));
          const lr = r * t;
          for (let j = 0; j < t; j++) {
            const v = j === ja ? runner[q] : best[o + j];
            lower[lr + j] = Math.acos(clampCos(v * w));
          }
          const old = label[r];
          if (old === a) continue;
          if (old >= 0) {
            addRow(train, r, sums, old, -1);
            counts[old]--;
          }
          addRow(train, r, sums, a, 1);
          counts[a]++;
          label[r] = a;
        }
      }
    } finally {
      await kernel.release();
    }
    if (m > 0) searchCost = (performance.now() - tSearch) / m;
    if (it === niter - 1) {
      // The last round's objective over every point, as faiss reports it, in one exact pass in row order:
      // the same sum whichever points the bounds spared (the manifest must not depend on timings).
      finalObjective = 0;
      for (let r = 0; r < n; r++) if (label[r] >= 0) finalObjective += rowDot(train, r, centroids, label[r]) * train.invNorm[r];
    }
    const next = new Float32Array(k * d);
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue;
      const inv = 1 / counts[c];
      for (let j = 0; j < d; j++) next[c * d + j] = sums[c * d + j] * inv;
    }
    const split = splitEmpty(next, Float64Array.from(counts), k, d, n, rng);
    normaliseRows(next, k, d);
    delta = movement(centroids, next, k, d);
    centroids = next;
    objective.push(obj);
    splits.push(split);
    opts.onIteration?.(it, obj, split, m);
  }
  // The bounds also settle the training points' final assignment wherever they still hold: the
  // stage's assignment of every row can then skip those rows (a quarter of Bunny's 2M, say).
  const finalLabel = new Int32Array(n).fill(-1);
  if (niter > 0 && train === x) {
    groupDelta.fill(0);
    for (let c = 0; c < k; c++) {
      const j = (c / size) | 0;
      if (delta[c] > groupDelta[j]) groupDelta[j] = delta[c];
    }
    for (let r = 0; r < n; r++) {
      let lo = Infinity;
      for (let j = 0; j < t; j++) lo = Math.min(lo, lower[r * t + j] - groupDelta[j]);
      if (upper[r] + delta[label[r]] + BOUND_MARGIN < lo) finalLabel[r] = label[r];
    }
  }
  return { centroids, k, dim: d, objective, finalObjective, splits, searched: searchedPerRound, trainingPoints: n, finalLabel: train === x ? finalLabel : undefined };
}

/** A centroid that moved further than this (radians) is compared exactly rather than bounded. */
const JUMP = 0.05;

/**
 * Top-2 inner products of every row of x among the centroids `which` (indices into `which`),
 * row-major [n, min(2, |which|)].
 */
async function nearestAmong(x: Matrix, centroids: Float32Array, which: Int32Array, opts: KernelOptions): Promise<{ best: Float32Array; label: Int32Array }> {
  const d = x.dim;
  const sub = new Float32Array(which.length * d);
  for (let q = 0; q < which.length; q++) sub.set(centroids.subarray(which[q] * d, which[q] * d + d), q * d);
  const top = Math.min(2, which.length) as 1 | 2;
  const kernel = await NearestCentroid.create(sub, which.length, d, x.data instanceof Uint16Array ? 'float16' : 'float32', { ...opts, top });
  const best = new Float32Array(x.rows * top);
  const label = new Int32Array(x.rows * top);
  try {
    await kernel.search(x.data, x.rows, label, best);
  } finally {
    await kernel.release();
  }
  return { best, label };
}

/** Groups of centroids for the Yinyang bounds (memory: one float per point and group). */
const BOUND_GROUPS = 16;

/**
 * Centroids per bound group: about BOUND_GROUPS groups, of a size that divides k when one within 1.5x as many
 * groups does (k = 1,000: 20 groups of 50), so the kernel needs no padded columns and no bias pass.
 */
function groupSize(k: number): number {
  const want = Math.min(k, BOUND_GROUPS);
  for (let t = want; t <= Math.min(k, want * 1.5); t++) if (k % t === 0) return k / t;
  return Math.ceil(k / want);
}

/** Slack on the bounds for float32 rounding of similarities (radians). */
const BOUND_MARGIN = 1e-4;

/** Angle each centroid moved (radians). */
function movement(a: Float32Array, b: Float32Array, k: number, d: number): Float64Array {
  const out = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += a[c * d + j] * b[c * d + j];
    // acos loses precision near 1; the chord gives the same angle stably: θ = 2 asin(|a-b|/2).
    let ch = 0;
    for (let j = 0; j < d; j++) {
      const e = a[c * d + j] - b[c * d + j];
      ch += e * e;
    }
    out[c] = Math.max(Math.acos(clampCos(s)), 2 * Math.asin(Math.min(1, Math.sqrt(ch) / 2)));
  }
  return out;
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
