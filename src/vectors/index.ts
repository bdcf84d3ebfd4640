/**
 * The vector engine: spherical k-means (faiss's algorithm, made cheaper with exact Yinyang bounds), nearest
 * centroid assignment, and the similarity kernels they run on (small ONNX graphs: sgemm + a reduction inside
 * onnxruntime). The coreset's steps (src/coreset/) and any other stage that clusters or compares embeddings
 * use it through this interface; it knows nothing of files, parts or manifests.
 *
 *   train(vectors, k, options)   -> centroids (k x d, unit rows) + objective (sum of cosines, faiss's `obj`)
 *   assign(vectors, centroids, k) -> label + cosine per row
 *   kernels.ts                   -> the GEMM + top-1/top-2/pairs graphs, for streaming callers
 */
import { assign as assignAll, trainSpherical, type KMeansOptions, type KMeansResult } from './kmeans.js';
import type { KernelOptions } from './kernels.js';
import type { Matrix } from './rows.js';

export type { Matrix } from './rows.js';
export { inverseNorms, normaliseRows, subsample } from './rows.js';
export type { KMeansOptions, KMeansResult } from './kmeans.js';
export { trainSpherical } from './kmeans.js';
export { Rng, randomPick, sampleSorted } from './rng.js';
export { CHUNK_ROWS, GroupedNearest, NearestCentroid, PairKernel, ProductKernel, RowStats, type EmbDtype, type KernelOptions } from './kernels.js';

export interface Trained {
  /** k x d, row-major, unit rows. */
  centroids: Float32Array;
  /** The last round's sum of cosines over every training point (faiss's last `obj`). */
  objective: number;
  /** Per-round figures (searched points, splits, ...). */
  detail: KMeansResult;
}

/** Train k centroids on `vectors` (float16 bits or float32, with inverse norms). Deterministic for a seed. */
export async function train(vectors: Matrix, k: number, options: Omit<KMeansOptions, 'k'> = {}): Promise<Trained> {
  const detail = await trainSpherical(vectors, { ...options, k });
  return { centroids: detail.centroids, objective: detail.finalObjective ?? detail.objective.at(-1) ?? 0, detail };
}

/** Nearest centroid (inner product, first on ties) of every row, and its cosine. */
export async function assign(vectors: Matrix, centroids: Float32Array, k: number, options: KernelOptions = {}): Promise<{ label: Int32Array; cosine: Float32Array }> {
  const { label, sim } = await assignAll(vectors, centroids, k, options);
  return { label, cosine: sim };
}
