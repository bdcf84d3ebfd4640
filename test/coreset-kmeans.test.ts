import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers.js';
import { readNpy } from '../src/util/npy.js';
import { assign, inverseNorms, trainSpherical, type Matrix } from '../src/vectors/index.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'coreset');
// Written by scripts/coreset_reference.py with faiss and scikit-learn.
const ref = JSON.parse(readFileSync(path.join(FIX, 'km_ref.json'), 'utf8')) as {
  k: number;
  faiss_inertia_mean: number;
  faiss_inertia_min: number;
  sklearn_inertia: number;
  faiss_same_init_inertia: number;
  faiss_same_init_obj: number[];
};

async function load(file: string): Promise<Matrix> {
  const { header, values } = await readNpy(path.join(FIX, file));
  return { data: values, rows: header.rows, dim: header.cols, invNorm: inverseNorms(values, header.rows, header.cols) };
}

async function inertia(x: Matrix, centroids: Float32Array, k: number): Promise<number> {
  const { cosine: sim } = await assign(x, centroids, k);
  let s = 0;
  for (const v of sim) s += 2 - 2 * v;
  return s;
}

test('from the same initial centroids, our spherical k-means is faiss\'s Lloyd iterations (inertia within 0.1%)', async () => {
  const x = await load('km_x.npy');
  const init = (await readNpy(path.join(FIX, 'km_init.npy'))).values as Float32Array;
  const r = await trainSpherical(x, { k: ref.k, niter: 10, initialCentroids: init });
  // Round 0 searches every point, so its objective is faiss's first `obj` exactly (to float rounding).
  assert.ok(Math.abs(r.objective[0] - ref.faiss_same_init_obj[0]) / ref.faiss_same_init_obj[0] < 1e-5, `${r.objective[0]} vs ${ref.faiss_same_init_obj[0]}`);
  // The last round's full objective is faiss's last `obj` (the same Lloyd steps from the same start).
  const last = ref.faiss_same_init_obj.at(-1)!;
  assert.ok(Math.abs(r.finalObjective! - last) / last < 1e-4, `${r.finalObjective} vs faiss ${last}`);
  assert.ok(r.objective.at(-1)! < r.finalObjective!, 'the per-round objective covers only the points searched');
  const ours = await inertia(x, r.centroids, ref.k);
  assert.ok(Math.abs(ours - ref.faiss_same_init_inertia) / ref.faiss_same_init_inertia < 1e-3, `${ours} vs faiss ${ref.faiss_same_init_inertia}`);
  // The bounds skipped work once centroids settled, without changing the result.
  assert.ok(r.searched.at(-1)! < x.rows, `searched ${r.searched.join(',')}`);
  // Where the bounds settle a training point's final cluster, it is the nearest final centroid.
  const { label } = await assign(x, r.centroids, ref.k);
  let proven = 0;
  for (let i = 0; i < x.rows; i++) {
    if (r.finalLabel![i] < 0) continue;
    proven++;
    assert.equal(r.finalLabel![i], label[i]);
  }
  assert.ok(proven > x.rows / 2, `${proven} proven`);
});

test('float16 input clusters like float32 input (inertia within 0.5%)', async () => {
  const x32 = await load('km_x.npy');
  const x16 = await load('km_x16.npy');
  const init = (await readNpy(path.join(FIX, 'km_init.npy'))).values as Float32Array;
  const a = await trainSpherical(x32, { k: ref.k, niter: 10, initialCentroids: init });
  const b = await trainSpherical(x16, { k: ref.k, niter: 10, initialCentroids: init });
  const ia = await inertia(x32, a.centroids, ref.k);
  const ib = await inertia(x32, b.centroids, ref.k);
  assert.ok(Math.abs(ia - ib) / ia < 5e-3, `${ia} vs ${ib}`);
});

test('seeded: the same seed gives the same centroids; random and k-means++ init land within faiss/sklearn range', async () => {
  const x = await load('km_x.npy');
  const a = await trainSpherical(x, { k: ref.k, niter: 10, seed: 4 });
  const b = await trainSpherical(x, { k: ref.k, niter: 10, seed: 4 });
  const c = await trainSpherical(x, { k: ref.k, niter: 10, seed: 5 });
  assert.deepEqual(a.centroids, b.centroids);
  assert.notDeepEqual(a.centroids, c.centroids);
  // Random init finds local minima as faiss's does; over five seeds our mean is no worse than faiss's.
  let sum = 0;
  for (let seed = 1; seed <= 5; seed++) sum += await inertia(x, (await trainSpherical(x, { k: ref.k, niter: 10, seed })).centroids, ref.k);
  assert.ok(sum / 5 <= ref.faiss_inertia_mean * 1.05, `mean ${sum / 5} vs faiss ${ref.faiss_inertia_mean}`);
  const pp = await trainSpherical(x, { k: ref.k, niter: 10, seed: 1, init: 'kmeans++' });
  const ipp = await inertia(x, pp.centroids, ref.k);
  assert.ok(ipp <= ref.faiss_inertia_mean, `k-means++ ${ipp} vs faiss random-init mean ${ref.faiss_inertia_mean} (sklearn ${ref.sklearn_inertia})`);
});

test('empty clusters are re-seeded by splitting a large one (faiss\'s rule)', async () => {
  const x = await load('km_x.npy');
  const init = Float32Array.from((await readNpy(path.join(FIX, 'km_init.npy'))).values as Float32Array);
  const d = x.dim;
  // Three identical initial centroids: two of them start empty.
  init.copyWithin(d, 0, d);
  init.copyWithin(2 * d, 0, d);
  const r = await trainSpherical(x, { k: ref.k, niter: 10, initialCentroids: init });
  assert.ok(r.splits[0] >= 2, `splits ${r.splits}`);
  const { label } = await assign(x, r.centroids, ref.k);
  const used = new Set(Array.from(label));
  assert.equal(used.size, ref.k);
});

test('k larger than the number of vectors is an error naming --k', async () => {
  const x = await load('km_x.npy');
  await assert.rejects(trainSpherical({ ...x, rows: 10 }, { k: 11 }), /--k 11 is larger than the number of vectors to cluster \(10\)/);
  await assert.rejects(trainSpherical(x, { k: 0 }), /--k must be a positive integer/);
});
