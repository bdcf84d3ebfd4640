/**
 * Initial centroids: faiss's (k distinct training points, seeded) or k-means++ (D² sampling).
 */
import { ProductKernel, type KernelOptions } from './kernels.js';
import { Rng, randomPick } from './rng.js';
import { rowInto, subsample, type Matrix } from './rows.js';

/** faiss's initialisation: k distinct training points (a seeded shuffle's first k), normalised. */
export function randomInit(x: Matrix, k: number, rng: Rng): Float32Array {
  const pick = randomPick(x.rows, k, rng);
  const c = new Float32Array(k * x.dim);
  for (let i = 0; i < k; i++) rowInto(x, pick[i], c, i * x.dim);
  return c;
}

/**
 * k-means++ seeding (D² sampling with the spherical distance 2 - 2cos) over a pool of at most 8k
 * training points: it is sequential in k, so it suits k up to a few thousand; faiss's random init
 * is the default.
 */
export async function kmeansPlusPlus(x: Matrix, k: number, rng: Rng, opts: KernelOptions): Promise<Float32Array> {
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
