/**
 * `npm run bench -- dedup` (figures, not a test):
 *   (a) quality on a planted corpus (src/dedup/planted.ts: exact copies, near copies at known word-5-gram
 *       Jaccard, unrelated documents): the share of planted copies removed per Jaccard bin and the unplanted
 *       documents removed, for mmcurate and for scripts/dedup_reference.py (hashlib / numpy MinHash with xxh32
 *       and all-pairs verification), exact (must be identical) and near at 14x8 (FineWeb) and 20x5;
 *   (b) MinHash throughput, one core each: mmcurate's MinHasher (signature + shingle set) beside the
 *       reference's numpy signature on the same documents, interleaved A/B/A/B, CPU time beside wall time;
 *   (c) the whole stage (`mmcurate dedup --near text`, then `--exact text`) on N short documents: wall, CPU
 *       (children's user + system) and peak RSS.
 * Environment: BENCH_DEDUP_N (documents of (c), default 1,000,000), BENCH_DEDUP_QUALITY (originals of (a),
 * default 20,000), BENCH_DEDUP_THROUGHPUT (documents of (b), default 20,000), BENCH_DEDUP_PARTS (a,b,c),
 * BENCH_DEDUP_PYTHON (the reference's interpreter, default python3: it needs numpy, pyarrow and xxhash).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MinHasher } from '../src/dedup/minhash.js';
import { candidateProbability } from '../src/dedup/minhash.js';
import { plantedCorpus } from '../src/dedup/planted.js';
import { BIN, ROOT, table, timeCli } from './util.js';

/** A Python with numpy, pyarrow and xxhash (`pip install numpy pyarrow xxhash`, in a venv if you like). */
const PY = process.env.BENCH_DEDUP_PYTHON ?? 'python3';
const REF = path.join(ROOT, 'scripts', 'dedup_reference.py');
const DIR = path.join(ROOT, '.bench', 'dedup');
const PARTS = (process.env.BENCH_DEDUP_PARTS ?? 'a,b,c').split(',');
const N = Number(process.env.BENCH_DEDUP_N ?? 1_000_000);
const NQ = Number(process.env.BENCH_DEDUP_QUALITY ?? 20_000);
const NT = Number(process.env.BENCH_DEDUP_THROUGHPUT ?? 20_000);

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, CI: 'true' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

async function writeJsonl(file: string, docs: string[]): Promise<number> {
  const s = createWriteStream(file);
  let bytes = 0;
  for (let i = 0; i < docs.length; i++) {
    const line = JSON.stringify({ text: docs[i], doc: i }) + '\n';
    bytes += line.length;
    if (!s.write(line)) await new Promise<void>((r) => s.once('drain', () => r()));
  }
  await new Promise<void>((r) => {
    s.end(() => r());
  });
  return bytes;
}

function ingest(jsonl: string, out: string): void {
  rmSync(out, { recursive: true, force: true });
  run(process.execPath, [BIN, 'ingest', '--kind', 'text', '--input', jsonl, '--out', out, '--quiet']);
}

type Bins = Record<string, { removed: number; pairs: number; share: number }> & { unplanted_removed?: number };

async function quality(): Promise<string> {
  const dir = path.join(DIR, 'quality');
  mkdirSync(dir, { recursive: true });
  const per = Math.round(NQ / 25);
  const c = plantedCorpus({ originals: NQ, exact: per, nearPerTarget: per, minWords: 200, maxWords: 400, seed: 5 });
  await writeJsonl(path.join(dir, 'docs.jsonl'), c.docs);
  writeFileSync(path.join(dir, 'truth.json'), JSON.stringify({ pairs: c.pairs }));
  ingest(path.join(dir, 'docs.jsonl'), path.join(dir, 'in'));
  const rows: (string | number)[][] = [];
  const bins = ['exact', '0.9-1', '0.8-0.9', '0.7-0.8', '0.5-0.7', '0-0.5'];
  const configs: [string, string[], string[]][] = [
    ['exact text', ['--exact', 'text'], ['--exact', 'text']],
    ['near 14x8', ['--near', 'text'], ['--near', 'text']],
    ['near 20x5', ['--near', 'text', '--bands', '20', '--rows', '5'], ['--near', 'text', '--bands', '20', '--rows', '5']],
  ];
  const notes: string[] = [];
  for (const [name, ours, theirs] of configs) {
    const out = path.join(dir, name.replace(/ /g, '-'));
    rmSync(out, { recursive: true, force: true });
    const t = timeCli(['dedup', '--input', path.join(dir, 'in'), ...ours, '--out', out, '--quiet']);
    const ref = JSON.parse(run(PY, [REF, '--input', path.join(dir, 'in'), ...theirs, '--compare', out, '--truth', path.join(dir, 'truth.json')])) as {
      seconds: number;
      compare: { ts_removed: number; both: number; ts_only: number; reference_only: number; identical: boolean };
      ts_truth: Bins;
      reference_truth: Bins;
    };
    for (const [who, b, secs] of [['mmcurate', ref.ts_truth, t.seconds], ['reference', ref.reference_truth, ref.seconds]] as const) {
      const hi = ['0.8-0.9', '0.9-1'].map((k) => b[k] ?? { removed: 0, pairs: 0 });
      const recall = (hi[0]!.removed + hi[1]!.removed) / Math.max(1, hi[0]!.pairs + hi[1]!.pairs);
      const low = b['0-0.5'] ?? { removed: 0, pairs: 1 };
      rows.push([name, who, ...bins.map((k) => (b[k] ? `${b[k].removed}/${b[k].pairs}` : '-')), recall.toFixed(4), (low.removed / Math.max(1, low.pairs)).toFixed(4), String(b.unplanted_removed ?? 0), secs]);
    }
    notes.push(`${name}: mmcurate removed ${ref.compare.ts_removed}, the reference ${ref.compare.ts_removed - ref.compare.ts_only + ref.compare.reference_only}; both ${ref.compare.both}, mmcurate only ${ref.compare.ts_only}, reference only ${ref.compare.reference_only}${name.startsWith('exact') ? ` (identical: ${ref.compare.identical})` : ''}`);
  }
  const sc = [0.5, 0.7, 0.8, 0.85, 0.9].map((j) => `J ${j}: 14x8 ${candidateProbability(j, 14, 8).toFixed(3)}, 20x5 ${candidateProbability(j, 20, 5).toFixed(3)}`).join('; ');
  return `### Dedup quality on a planted corpus (${c.docs.length.toLocaleString('en-US')} documents of 200-400 words; ${per} exact copies and ${per} near copies per target Jaccard 0.3...0.95)

Cells: planted copies removed / planted pairs in the bin of true word-5-gram Jaccard. Recall: bins >= 0.8 (near copies). False: share of pairs below 0.5 removed. Unplanted: documents removed that are no planted copy.

${table(['config', 'implementation', ...bins, 'recall >= 0.8', 'false < 0.5', 'unplanted', 'seconds'], rows)}

${notes.join('. ')}.
LSH candidate probability 1 - (1 - J^r)^b: ${sc}.
`;
}

async function throughput(): Promise<string> {
  const dir = path.join(DIR, 'throughput');
  mkdirSync(dir, { recursive: true });
  const c = plantedCorpus({ originals: NT, exact: 0, nearPerTarget: 0, minWords: 60, maxWords: 140, seed: 9 });
  const file = path.join(dir, 'docs.jsonl');
  await writeJsonl(file, c.docs);
  const bytes = c.docs.reduce((a, d) => a + Buffer.byteLength(d), 0);
  const rows: (string | number)[][] = [];
  const ours = (): { wall: number; cpu: number } => {
    const h = new MinHasher({ ngram: 5, bands: 14, rows: 8, seed: 1 });
    const t = performance.now();
    const u = process.cpuUsage();
    for (const d of c.docs) {
      h.hash(d);
      h.shingles();
    }
    const cu = process.cpuUsage(u);
    return { wall: (performance.now() - t) / 1000, cpu: (cu.user + cu.system) / 1e6 };
  };
  const theirs = (): { wall: number; cpu: number } => {
    const r = JSON.parse(run(PY, [REF, '--bench-signatures', file])) as { wall_s: number; cpu_s: number };
    return { wall: r.wall_s, cpu: r.cpu_s };
  };
  for (let rep = 0; rep < 2; rep++) {
    for (const [who, f] of [['mmcurate MinHasher (TS)', ours], ['reference (numpy + xxh32)', theirs]] as const) {
      const m = f();
      rows.push([who, String(rep + 1), NT / m.cpu, bytes / 1e6 / m.cpu, m.wall, m.cpu]);
    }
  }
  return `### MinHash throughput, one core (${NT.toLocaleString('en-US')} documents of 60-140 words, ${(bytes / 1e6).toFixed(1)} MB; 112 hashes, word 5-grams; A/B/A/B)

Per core = per second of CPU time (both run on one thread).

${table(['implementation', 'run', 'documents/s per core', 'MB/s per core', 'wall s', 'CPU s'], rows)}
`;
}

/** Children's CPU seconds of a command, from bash's `times`. */
function timed(args: string[]): { wall: number; cpu: number; rss: number } {
  const t = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', `MMCURATE_REPORT_RSS=1 "$@" >/dev/null 2>/tmp/mmcurate-bench-dedup.err; s=$?; times; grep peak_rss /tmp/mmcurate-bench-dedup.err; exit $s`, 'bash', process.execPath, BIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`mmcurate ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const sec = (s: string): number => {
    const m = /(\d+)m([\d.]+)s/.exec(s)!;
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const [u, s] = lines[1]!.split(/\s+/);
  return { wall, cpu: sec(u!) + sec(s!), rss: Number(/peak_rss_bytes=(\d+)/.exec(r.stdout)?.[1] ?? NaN) };
}

async function stage(): Promise<string> {
  const dir = path.join(DIR, 'stage');
  mkdirSync(dir, { recursive: true });
  const copies = Math.round(N / 100);
  const c = plantedCorpus({ originals: N, exact: copies, nearPerTarget: Math.round(copies / 10), minWords: 30, maxWords: 60, seed: 13 });
  const file = path.join(dir, 'docs.jsonl');
  const bytes = await writeJsonl(file, c.docs);
  const n = c.docs.length;
  c.docs.length = 0;
  ingest(file, path.join(dir, 'in'));
  const rows: (string | number)[][] = [];
  for (const [name, args] of [['near text (14x8, verify exact)', ['--near', 'text']], ['exact text', ['--exact', 'text']]] as const) {
    const out = path.join(dir, 'out');
    rmSync(out, { recursive: true, force: true });
    const t = timed(['dedup', '--input', path.join(dir, 'in'), ...args, '--out', out, '--quiet']);
    const m = JSON.parse(run('cat', [path.join(out, 'manifest.json')])) as { rejected: number };
    rows.push([name, n, String(m.rejected), n / t.wall, n / t.cpu, bytes / 1e6 / t.cpu, t.wall, t.cpu, t.rss / 1024 ** 2]);
  }
  return `### The whole stage on ${n.toLocaleString('en-US')} short documents (30-60 words, ${(bytes / 1e6).toFixed(0)} MB of JSONL; ingested first, not timed)

CPU = user + system of the process and its worker threads. Peak RSS: VmHWM of the process (threads included).

${table(['command', 'documents', 'removed', 'documents/s (wall)', 'documents per CPU-s', 'MB per CPU-s', 'wall s', 'CPU s', 'peak RSS MiB'], rows)}
`;
}

export async function benchDedup(): Promise<string> {
  const probe = spawnSync(PY, ['-c', 'import numpy, pyarrow, xxhash'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${PY} cannot import numpy, pyarrow and xxhash, which scripts/dedup_reference.py needs: pip install numpy pyarrow xxhash, or set BENCH_DEDUP_PYTHON to a Python that has them (${probe.stderr.trim().split('\n').pop()})`);
  const out: string[] = [];
  if (PARTS.includes('a')) out.push(await quality());
  if (PARTS.includes('b')) out.push(await throughput());
  if (PARTS.includes('c')) out.push(await stage());
  return out.join("\n");
}
