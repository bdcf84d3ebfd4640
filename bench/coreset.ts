/**
 * `npm run bench -- coreset` (figures, not a test): the coreset's vector engine and recipe against faiss, on the
 * same data, with the same thread count, in the same run, each pair interleaved (A/B/A/B) BENCH_CORESET_REPEAT times,
 * wall and CPU seconds side by side, the load average printed with every run and the spread (median, min-max) given.
 *   (a) spherical k-means, 200K x 512 float32, k = 1,000, 10 iterations: training time and final inertia (sum over
 *       all rows of |x - c|², c the nearest final centroid) vs faiss.Kmeans(spherical=True) (bench/peers/faiss_kmeans.py);
 *   (b) ml-kmeans (the design card's JavaScript library) on a subsample of the same task, extrapolated;
 *   (c) the whole Bunny recipe (k-means, dedup 0.86 middle, bands 40-60 / 15-35, sample n/1000) on 2M x 768 float16
 *       in the LAION layout (bench/peers/laion_like.py) vs bench/peers/bunny_faiss.py (faiss + numpy + scipy, the clip
 *       score computed part by part): wall and CPU time, peak RSS, per-step counts.
 * The peer runs as its users would run it: faiss-cpu from pip (1.15.1 when measured) with its own OpenBLAS on the
 * kernel that suits the CPU (below), else Debian's python3-faiss; the kernel it ran is printed.
 * Environment: MMCURATE_FAISS_PYTHON (the Python with faiss; default .bench/venv-peers/bin/python when it exists, else
 * /usr/bin/python3, Debian's python3-faiss), BENCH_OPENBLAS_CORETYPE (force the peer's OpenBLAS kernel),
 * BENCH_CORESET_PARTS (a,b,c; default all), BENCH_CORESET_N (rows for (c), default 2,000,000), BENCH_CORESET_K (k for
 * (c), default 2,000), BENCH_CORESET_THREADS (default: all cores), BENCH_CORESET_DIR (data folder, default
 * .bench/coreset; generated once, ~6 GB for (c)), BENCH_CORESET_REPEAT (pairs per task, default 3).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load, median, peerPython, ROOT, spread, table, timeNode } from './util.js';

const PY = '/usr/bin/python3';
/** The Python peers and the data generator (bench/peers/, next to the compiled benchmarks' sources). */
const PEERS = path.join(ROOT, 'bench', 'peers');
const DIR = process.env.BENCH_CORESET_DIR ?? path.join(ROOT, '.bench', 'coreset');
const THREADS = Number(process.env.BENCH_CORESET_THREADS ?? os.cpus().length);
const PARTS = (process.env.BENCH_CORESET_PARTS ?? 'a,b,c').split(',');
const N_C = Number(process.env.BENCH_CORESET_N ?? 2_000_000);
const K_C = Number(process.env.BENCH_CORESET_K ?? 2000);
const HERE = path.dirname(new URL(import.meta.url).pathname);
const REPEAT = Math.max(1, Number(process.env.BENCH_CORESET_REPEAT ?? 3));

/** The Python with faiss (and numpy, scipy; threadpoolctl to name the BLAS kernel). */
export function faissPython(): string {
  return peerPython('MMCURATE_FAISS_PYTHON');
}

/** Whether this CPU (as the kernel shows it to us) has AVX-512F. */
function hasAvx512(): boolean {
  try {
    return /^flags\s*:.*\bavx512f\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The peer's environment. An OPENBLAS_CORETYPE inherited from the machine (some set Haswell for old OpenBLAS builds)
 * would pin the peer to AVX2 kernels on an AVX-512 CPU, so it is dropped; on an AVX-512 CPU the peer gets SkylakeX,
 * because OpenBLAS 0.3.x names Zen 4/5 wrongly (Barcelona or Zen: AVX2 kernels); elsewhere its own detection stands.
 * BENCH_OPENBLAS_CORETYPE forces a kernel.
 */
export function peerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(THREADS), OPENBLAS_NUM_THREADS: String(THREADS) };
  delete env.OPENBLAS_CORETYPE;
  const forced = process.env.BENCH_OPENBLAS_CORETYPE ?? (hasAvx512() ? 'SkylakeX' : undefined);
  if (forced) env.OPENBLAS_CORETYPE = forced;
  return env;
}

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

/** One run of a Python peer script; its last stdout line. */
function runPeer(script: string, args: string[]): { line: string; wall: number } {
  const t = performance.now();
  const r = spawnSync(faissPython(), [path.join(PEERS, script), ...args], { encoding: 'utf8', env: peerEnv(), maxBuffer: 16 << 20 });
  const wall = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${script} under ${faissPython()} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return { line: r.stdout.trim().split('\n').at(-1)!, wall };
}

const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(2)}%`;
const loads = (l: number[]) => `load ${l.map((x) => x.toFixed(1)).join('/')}`;

async function benchKmeans(rows: (string | number)[][], notes: string[]): Promise<void> {
  const file = kmeansData();
  type F = { train_s: number; cpu_s: number; inertia: number; faiss: string; threads: number; kernel: string; maxrss_gb: number };
  type O = { train_s: number; cpu_s: number; inertia: number; searched: number[] };
  const f: F[] = [], o: O[] = [], fl: number[] = [], ol: number[] = [];
  let rss = 0;
  for (let rep = 0; rep < REPEAT; rep++) {
    fl.push(load());
    f.push(JSON.parse(runPeer('faiss_kmeans.py', [file, '1000']).line) as F);
    ol.push(load());
    const run = timeNode(path.join(HERE, 'coreset-kmeans.js'), [file, '1000', String(THREADS)]);
    o.push(JSON.parse(run.stdout.trim().split('\n').at(-1)!) as O);
    rss = Math.max(rss, run.peakRssBytes);
  }
  const f0 = f[0]!, o0 = o[0]!;
  const wallRatio = o.map((x, i) => x.train_s / f[i]!.train_s);
  const cpuRatio = o.map((x, i) => x.cpu_s / f[i]!.cpu_s);
  const task = '(a) k-means 200K x 512 f32, k=1000, 10 it';
  rows.push([task, `faiss ${f0.faiss}, ${f0.threads} threads`, spread(f.map((x) => x.train_s), 1), spread(f.map((x) => x.cpu_s), 1), f0.inertia, loads(fl), `${f0.maxrss_gb.toFixed(2)} GB`]);
  rows.push(['', `mmcurate, ${THREADS} threads`, spread(o.map((x) => x.train_s), 1), spread(o.map((x) => x.cpu_s), 1), o0.inertia, loads(ol), `${(rss / 1e9).toFixed(2)} GB`]);
  rows.push(['', 'mmcurate / faiss, per pair', spread(wallRatio) + 'x', spread(cpuRatio) + 'x', pct(o0.inertia, f0.inertia), '', '']);
  notes.push(
    `(a) faiss ${f0.faiss} under ${path.relative(ROOT, faissPython()).startsWith('..') ? faissPython() : path.relative(ROOT, faissPython())}, BLAS ${f0.kernel}${peerEnv().OPENBLAS_CORETYPE ? ` (OPENBLAS_CORETYPE=${peerEnv().OPENBLAS_CORETYPE})` : ' (its own CPU detection)'}; ` +
      `${REPEAT} pairs, faiss first in each; mmcurate searched per round: ${o0.searched.map((s) => Math.round(s / 1000) + 'K').join(' ')}; ` +
      `inertia median ${median(f.map((x) => x.inertia)).toFixed(1)} (faiss) vs ${median(o.map((x) => x.inertia)).toFixed(1)} (mmcurate), the same in every run.`,
  );
}

async function benchMlKmeans(rows: (string | number)[][]): Promise<void> {
  const l = load();
  const r = timeNode(path.join(HERE, 'coreset-kmeans.js'), [kmeansData(), '1000', String(THREADS), 'ml-kmeans']);
  const o = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { sub: number; iters: number; ml_s_per_iter: number; ours_s_per_iter: number };
  const extrapolated = o.ml_s_per_iter * (200_000 / o.sub) * 10;
  rows.push([
    '(b) ml-kmeans 7 (JS, 1 thread), same task',
    `extrapolated from ${o.iters} it on ${o.sub / 1000}K rows`,
    extrapolated,
    'n/a',
    'n/a',
    `load ${l.toFixed(1)}`,
    `${o.ml_s_per_iter.toFixed(1)} s/it vs ${o.ours_s_per_iter.toFixed(2)} for ours (${(o.ml_s_per_iter / o.ours_s_per_iter).toFixed(0)}x)`,
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

async function benchBunny(rows: (string | number)[][], notes: string[]): Promise<void> {
  const input = laionData();
  const out = path.join(DIR, 'bunny-out');
  const target = String(Math.max(1, Math.floor(N_C / 1000)));
  const args = ['--input', input, '--recipe', 'bunny-laion-2m', '--k', String(K_C), '--target', target, '--threads', String(THREADS), '--out', out, '--quiet'];
  const f: { wall: number; cpu: number; rss: number; counts: string; line: string }[] = [];
  const o: { wall: number; cpu: number; rss: number; counts: string; steps: string }[] = [];
  const fl: number[] = [], ol: number[] = [];
  for (let rep = 0; rep < REPEAT; rep++) {
    fl.push(load());
    const { line, wall } = runPeer('bunny_faiss.py', [input, String(K_C)]);
    f.push({
      wall,
      cpu: Number(/cpu=([\d.]+)s/.exec(line)?.[1]),
      rss: Number(/maxrss=([\d.]+)GB/.exec(line)?.[1]),
      counts: `${N_C} -> ${/dedup kept (\d+) \([\d.]+%\) -> (\d+) -> (\d+) -> (\d+)/.exec(line)?.slice(1).join(' -> ') ?? '?'}`,
      line,
    });
    ol.push(load());
    rmSync(out, { recursive: true, force: true });
    const ours = timeNode(path.join(HERE, 'coreset-cli.js'), args);
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { steps: { out: number }[] };
    const log = JSON.parse(readFileSync(path.join(out, 'run-log.json'), 'utf8')) as { timings_s: Record<string, number> };
    o.push({ wall: ours.seconds, cpu: ours.cpuSeconds, rss: ours.peakRssBytes / 1e9, counts: m.steps.map((s) => s.out).join(' -> '), steps: Object.entries(log.timings_s).map(([k, v]) => `${k}=${v.toFixed(1)}s`).join(' ') });
    rmSync(out, { recursive: true, force: true });
  }
  const task = `(c) Bunny recipe ${N_C / 1e6}M x 768 f16, k=${K_C}`;
  rows.push([task, 'bench/peers/bunny_faiss.py', spread(f.map((x) => x.wall), 1), spread(f.map((x) => x.cpu), 1), f[0]!.counts, loads(fl), `${Math.max(...f.map((x) => x.rss)).toFixed(2)} GB`]);
  rows.push(['', 'mmcurate coreset', spread(o.map((x) => x.wall), 1), spread(o.map((x) => x.cpu), 1), o[0]!.counts, loads(ol), `${Math.max(...o.map((x) => x.rss)).toFixed(2)} GB`]);
  rows.push(['', 'mmcurate / peer, per pair', spread(o.map((x, i) => x.wall / f[i]!.wall)) + 'x', spread(o.map((x, i) => x.cpu / f[i]!.cpu)) + 'x', '', '', `${((Math.max(...o.map((x) => x.rss)) / Math.max(...f.map((x) => x.rss))) * 100).toFixed(0)}% of the peer's`]);
  notes.push(`(c) peer: ${f[0]!.line.split(' | ').slice(0, 2).join(' | ')}; mmcurate steps (first run): ${o[0]!.steps}.`);
}

export async function benchCoreset(): Promise<string> {
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  if (PARTS.includes('a')) await benchKmeans(rows, notes);
  if (PARTS.includes('b')) await benchMlKmeans(rows);
  if (PARTS.includes('c')) await benchBunny(rows, notes);
  const head = ['task', 'tool', 'wall s, median (min-max)', 'CPU s, median (min-max)', 'inertia / counts', 'load avg (1 min) per run', 'peak RSS / notes'];
  return `## coreset\n\n${table(head, rows)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`;
}
