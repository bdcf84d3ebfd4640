/**
 * `npm run bench -- coreset` (figures, not a test): the coreset engine against Debian's python3-faiss,
 * on the same data, with the same thread count, in the same run.
 *   (a) spherical k-means, 200K x 512 float32, k = 1,000, 10 iterations: wall time and final inertia
 *       (sum over all rows of |x - c|², c the nearest final centroid) vs faiss.Kmeans(spherical=True);
 *   (b) ml-kmeans (the design card's library) on a subsample of the same task, extrapolated;
 *   (c) the whole Bunny recipe (k-means, dedup 0.86 middle, bands 40-60 / 15-35, sample n/1000) on
 *       2M x 768 float16 in the LAION layout (bench/peers/laion_like.py) vs bench/peers/bunny_faiss.py
 *       (faiss + numpy, the clip score computed part by part): wall time, peak RSS, per-step counts.
 * Environment: BENCH_CORESET_PARTS (a,b,c; default all), BENCH_CORESET_N (rows for (c), default
 * 2,000,000), BENCH_CORESET_K (k for (c), default 2,000), BENCH_CORESET_THREADS (default: all cores),
 * BENCH_CORESET_DIR (data folder, default .bench/coreset; generated once, ~6 GB for (c)),
 * BENCH_CORESET_REPEAT (runs of (a) per tool, alternating, best kept; default 2).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, table, timeNode } from './util.js';

const PY = '/usr/bin/python3';
/** The Python peers and the data generator (bench/peers/, copied next to the compiled benchmarks' sources). */
const PEERS = path.join(ROOT, 'bench', 'peers');
const DIR = process.env.BENCH_CORESET_DIR ?? path.join(ROOT, '.bench', 'coreset');
const THREADS = Number(process.env.BENCH_CORESET_THREADS ?? os.cpus().length);
const PARTS = (process.env.BENCH_CORESET_PARTS ?? 'a,b,c').split(',');
const N_C = Number(process.env.BENCH_CORESET_N ?? 2_000_000);
const K_C = Number(process.env.BENCH_CORESET_K ?? 2000);
const HERE = path.dirname(new URL(import.meta.url).pathname);
const REPEAT = Number(process.env.BENCH_CORESET_REPEAT ?? 2);

function python(code: string, args: string[] = []): string {
  const r = spawnSync(PY, ['-c', code, ...args], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(THREADS) }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** 200K x 512 float32, L2-normalised, around 2,000 centres (seeded): the k-means task of (a). */
function kmeansData(): string {
  const file = path.join(DIR, 'kmeans-200k-512.npy');
  if (!existsSync(file)) {
    mkdirSync(DIR, { recursive: true });
    python(`import numpy as np, sys
rng = np.random.default_rng(7); n, d, c = 200_000, 512, 2000
cen = rng.standard_normal((c, d)).astype(np.float32); cen /= np.linalg.norm(cen, axis=1, keepdims=True)
x = cen[rng.integers(0, c, n)] + 0.04 * rng.standard_normal((n, d), dtype=np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True); np.save(sys.argv[1], x.astype(np.float32))`, [file]);
  }
  return file;
}

const FAISS_KMEANS = `import sys, time, json, resource, numpy as np, faiss
x = np.load(sys.argv[1]); k = int(sys.argv[2])
t = time.time(); km = faiss.Kmeans(x.shape[1], k, niter=10, seed=1, spherical=True, max_points_per_centroid=256); km.train(x); train = time.time() - t
D, I = km.index.search(x, 1)
print(json.dumps({"train_s": train, "inertia": float((2 - 2 * D[:, 0].astype(np.float64)).sum()), "threads": faiss.omp_get_max_threads(), "maxrss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))`;

async function benchKmeans(rows: (string | number)[][]): Promise<void> {
  const file = kmeansData();
  // The machine may be shared: alternate the two, REPEAT times each, and keep each one's best time.
  type F = { train_s: number; inertia: number; threads: number; maxrss_gb: number };
  type O = { train_s: number; inertia: number; searched: number[] };
  let f: F | undefined, o: O | undefined, ours: ReturnType<typeof timeNode> | undefined;
  for (let rep = 0; rep < REPEAT; rep++) {
    const fr = JSON.parse(python(FAISS_KMEANS, [file, '1000'])) as F;
    if (!f || fr.train_s < f.train_s) f = fr;
    const run = timeNode(path.join(HERE, 'coreset-kmeans.js'), [file, '1000', String(THREADS)]);
    const or = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as O;
    if (!o || or.train_s < o.train_s) [o, ours] = [or, run];
  }
  if (!f || !o || !ours) throw new Error('BENCH_CORESET_REPEAT must be at least 1');
  rows.push(['(a) k-means 200K x 512 f32, k=1000, 10 it', `faiss ${f.threads} threads`, f.train_s, f.inertia, `best of ${REPEAT}`, `${f.maxrss_gb.toFixed(2)} GB`]);
  rows.push([
    '',
    `mmcurate ${THREADS} threads`,
    o.train_s,
    o.inertia,
    `${(o.train_s / f.train_s).toFixed(2)}x faiss time, inertia ${(((o.inertia - f.inertia) / f.inertia) * 100).toFixed(2)}%; points searched per round: ${o.searched.map((s) => Math.round(s / 1000) + 'K').join(' ')}`,
    `${(ours.peakRssBytes / 1e9).toFixed(2)} GB`,
  ]);
}

async function benchMlKmeans(rows: (string | number)[][]): Promise<void> {
  const r = timeNode(path.join(HERE, 'coreset-kmeans.js'), [kmeansData(), '1000', String(THREADS), 'ml-kmeans']);
  const o = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { sub: number; iters: number; ml_s_per_iter: number; ours_s_per_iter: number };
  const extrapolated = o.ml_s_per_iter * (200_000 / o.sub) * 10;
  rows.push([
    '(b) ml-kmeans, same task',
    'ml-kmeans 7 (JS, 1 thread)',
    extrapolated,
    'n/a',
    `extrapolated from ${o.iters} iterations on ${o.sub / 1000}K rows: ${o.ml_s_per_iter.toFixed(1)} s/iteration there vs ${o.ours_s_per_iter.toFixed(2)} s for ours (${(o.ml_s_per_iter / o.ours_s_per_iter).toFixed(0)}x)`,
    '',
  ]);
}

function laionData(): string {
  const dir = path.join(DIR, `laion-${N_C}`);
  if (!existsSync(path.join(dir, 'img_emb'))) {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync(PY, [path.join(PEERS, 'laion_like.py'), dir, String(N_C), '768', String(K_C)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench/peers/laion_like.py failed: ${r.stderr}`);
  }
  return dir;
}

async function benchBunny(rows: (string | number)[][]): Promise<void> {
  const input = laionData();
  const out = path.join(DIR, 'bunny-out');
  rmSync(out, { recursive: true, force: true });
  const target = String(Math.max(1, Math.floor(N_C / 1000)));
  const args = ['--input', input, '--recipe', 'bunny-laion-2m', '--k', String(K_C), '--target', target, '--threads', String(THREADS), '--out', out, '--quiet'];
  const ours = timeNode(path.join(HERE, 'coreset-cli.js'), args);
  const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { steps: { out: number }[] };
  const log = JSON.parse(readFileSync(path.join(out, 'run-log.json'), 'utf8')) as { timings_s: Record<string, number> };
  rmSync(out, { recursive: true, force: true });
  const fr = spawnSync(PY, [path.join(PEERS, 'bunny_faiss.py'), input, String(K_C)], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(THREADS) }, maxBuffer: 16 << 20 });
  if (fr.status !== 0) throw new Error(`bunny_faiss.py failed: ${fr.stderr.slice(-2000)}`);
  const line = fr.stdout.trim();
  const total = Number(/total=([\d.]+)s/.exec(line)?.[1]);
  const rss = Number(/maxrss=([\d.]+)GB/.exec(line)?.[1]);
  const counts = /dedup kept (\d+) \([\d.]+%\) -> (\d+) -> (\d+) -> (\d+)/.exec(line)?.slice(1).join(' -> ') ?? '?';
  const phases = /\| (load=.*?) \| total/.exec(line)?.[1] ?? '';
  const t = log.timings_s;
  rows.push([`(c) Bunny recipe ${N_C / 1e6}M x 768 f16, k=${K_C}`, `bench/peers/bunny_faiss.py ${THREADS} threads`, total, `${N_C} -> ${counts}`, phases, `${rss.toFixed(2)} GB`]);
  rows.push([
    '',
    `mmcurate coreset ${THREADS} threads`,
    ours.seconds,
    m.steps.map((s) => s.out).join(' -> '),
    `${(ours.seconds / total).toFixed(2)}x faiss time; ${Object.entries(t).map(([k, v]) => `${k}=${v.toFixed(1)}s`).join(' ')}`,
    `${(ours.peakRssBytes / 1e9).toFixed(2)} GB (${((ours.peakRssBytes / 1e9 / rss) * 100).toFixed(0)}% of faiss)`,
  ]);
}

export async function benchCoreset(): Promise<string> {
  const rows: (string | number)[][] = [];
  if (PARTS.includes('a')) await benchKmeans(rows);
  if (PARTS.includes('b')) await benchMlKmeans(rows);
  if (PARTS.includes('c')) await benchBunny(rows);
  return `## coreset\n\n${table(['task', 'tool', 'wall s', 'inertia / counts', 'notes', 'peak RSS'], rows)}\n`;
}
