/**
 * Child process of bench/coreset.ts (a, b): our spherical k-means on a .npy matrix, printing one JSON
 * line. Args: FILE K THREADS [ml-kmeans]. With `ml-kmeans`, times ml-kmeans and ours per iteration on
 * a seeded 10K-row subsample of the same data (ml-kmeans is plain JavaScript: the full task would take hours).
 */
import { kmeansGenerator } from 'ml-kmeans';
import { assign, inverseNorms, Rng, randomPick, subsample, trainSpherical, type Matrix } from '../src/vectors/index.js';
import { readNpy } from '../src/util/npy.js';

// Under bench/util.ts's timeNode the script path is not in argv; run directly, it is.
const argv = process.argv.slice(process.argv[1]?.endsWith('.js') ? 2 : 1);
const [file, kText, threadsText, mode] = argv;
const k = Number(kText);
const threads = Number(threadsText);
const { header, values } = await readNpy(file!);
const x: Matrix = { data: values, rows: header.rows, dim: header.cols, invNorm: inverseNorms(values, header.rows, header.cols) };

if (mode === 'ml-kmeans') {
  const sub = subsample(x, 10_000, new Rng(3));
  const d = sub.dim;
  const data = Array.from({ length: sub.rows }, (_, r) => Array.from(sub.data.subarray(r * d, (r + 1) * d)));
  const init = Array.from(randomPick(sub.rows, k, new Rng(4)), (r) => data[r]!.slice());
  const iters = 2;
  const gen = kmeansGenerator(data, k, { initialization: init, maxIterations: iters, tolerance: 0 });
  const t0 = performance.now();
  let n = 0;
  for (const _ of gen) if (++n >= iters) break;
  const ml = (performance.now() - t0) / 1000 / n;
  const t1 = performance.now();
  await trainSpherical(sub, { k, niter: iters, seed: 1, threads });
  const ours = (performance.now() - t1) / 1000 / iters;
  process.stdout.write(JSON.stringify({ sub: sub.rows, iters: n, ml_s_per_iter: ml, ours_s_per_iter: ours }) + '\n');
} else {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await trainSpherical(x, { k, niter: 10, seed: 1, threads, maxPointsPerCentroid: 256 });
  const train = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const { cosine: sim } = await assign(x, r.centroids, k, { threads });
  let inertia = 0;
  for (const s of sim) inertia += 2 - 2 * s;
  process.stdout.write(JSON.stringify({ train_s: train, cpu_s: (cpu.user + cpu.system) / 1e6, inertia, objective: r.finalObjective, searched: r.searched }) + '\n');
}
