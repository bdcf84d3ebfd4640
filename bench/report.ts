/**
 * Report benchmark: `mmcurate report` on the demo run and on a 1M-row scored caption dataset (LAION-like
 * URL rows: caption, url, width, height, image_format, clip_score; 10% of rows rejected below a 0.2
 * threshold), size of the page, wall and CPU time, peak RSS. `mmcurate audit` on the same folder runs
 * interleaved with it (A/B/A/B): the other command that reads every shard of a dataset.
 */
import { mkdtempSync, rmSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '../src/vectors/index.js';
import { recordId } from '../src/records.js';
import { ShardWriter } from '../src/write/shard-writer.js';
import { buildManifest, writeManifest } from '../src/write/manifest.js';
import { spawnSync } from 'node:child_process';
import { BIN, MB, table } from './util.js';

/** The real CLI in a child process: wall seconds, CPU seconds (user + system, from bash's time) and peak RSS. */
function timeCli(args: string[]): { seconds: number; cpuSeconds: number; peakRssBytes: number } {
  const t = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="cpu=%U+%S"; time "$@"', 'bash', process.execPath, BIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', MMCURATE_REPORT_RSS: '1' }, maxBuffer: 256 << 20 });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`mmcurate ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const cpu = /cpu=([\d.]+)\+([\d.]+)/.exec(r.stderr);
  const rss = /peak_rss_bytes=(\d+)/.exec(r.stderr);
  return { seconds, cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN, peakRssBytes: rss ? Number(rss[1]) : NaN };
}

const WORDS = 'a photo of the red blue green old new small large dog cat house car tree city beach mountain woman man child table chair with on in at near sunset portrait vintage poster logo illustration drawing'.split(' ');

/** A scored-like caption dataset: rows kept above the threshold, the rest as low_clip_score rejects. */
export function scoredDataset(dir: string, n: number): { rows: number; rejected: number } {
  const rng = new Rng(7);
  const w = new ShardWriter({ outDir: dir, layout: 'caption', rank: 0, columns: ['clip_score'], stage: 'score' });
  mkdirSync(path.join(dir, 'rejects'), { recursive: true });
  const rejects: string[] = [];
  let kept = 0;
  for (let i = 0; i < n; i++) {
    // Box-Muller: clip_score ~ N(0.3, 0.06)
    const score = 0.3 + 0.06 * Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
    const words = 3 + rng.below(30);
    let text = '';
    for (let k = 0; k < words; k++) text += (k ? ' ' : '') + WORDS[rng.below(WORDS.length)];
    const id = recordId('laion', 'part-0', String(i));
    if (score < 0.2) {
      rejects.push(JSON.stringify({ source: 'laion', file: 'data/part-00000-00000.parquet', location: `row ${i}`, reason: 'low_clip_score', detail: `clip_score ${score.toFixed(4)} < 0.2`, id, clip_score: score }));
      continue;
    }
    kept++;
    w.write({ id, kind: 'caption', source: 'laion', image: { bytes: null, path: `https://example.com/${i}.jpg` }, text, url: `https://example.com/${i}.jpg`, image_format: i % 5 ? 'jpeg' : 'png', width: 128 + rng.below(1024), height: 128 + rng.below(1024), metadata: null, clip_score: score });
  }
  const shards = w.close();
  writeFileSync(path.join(dir, 'rejects', 'rejects-00000.jsonl'), rejects.join('\n') + '\n');
  const stats = { laion: { read: n, kept, rejected: rejects.length, rejected_by_reason: { low_clip_score: rejects.length } } };
  const m = buildManifest({
    stage: 'score',
    layout: 'caption',
    command: ['mmcurate', 'score', '--min-clip-score=0.2'],
    results: [{ rank: 0, shards, stats, rejects: { path: 'rejects/rejects-00000.jsonl', rows: rejects.length } }],
    columns: w.columns.map((c) => c.name),
    steps: [{ name: 'score', in: n, out: n }, { name: 'min_clip_score 0.2', in: n, out: kept }],
  });
  writeManifest(dir, m);
  return { rows: kept, rejected: rejects.length };
}

export async function benchReport(): Promise<string> {
  const n = Number(process.env.REPORT_BENCH_ROWS ?? 1_000_000);
  const rounds = Number(process.env.REPORT_BENCH_ROUNDS ?? 2);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmcurate-bench-report-'));
  try {
    const demo = path.join(tmp, 'demo');
    timeCli(['demo', '--out', demo, '--no-report']);
    const big = path.join(tmp, 'scored-1m');
    const made = scoredDataset(big, n);
    const rows: (string | number)[][] = [];
    const run = (name: string, args: string[], html?: string): void => {
      const t = timeCli(args);
      rows.push([name, t.seconds, t.cpuSeconds, t.peakRssBytes / MB, html ? statSync(html).size / MB : '']);
    };
    for (let r = 0; r < rounds; r++) {
      run('report, demo run (6 stages, 161 rows)', ['report', demo, '--out', path.join(tmp, 'demo.html'), '--quiet'], path.join(tmp, 'demo.html'));
      run(`report, scored caption set (${made.rows.toLocaleString('en-US')} rows + ${made.rejected.toLocaleString('en-US')} rejects)`, ['report', big, '--out', path.join(tmp, 'big.html'), '--quiet'], path.join(tmp, 'big.html'));
      run('audit, same set (no sha256)', ['audit', big, '--no-sha256']);
    }
    return `## report\n\n${table(['command', 'wall s', 'CPU s', 'peak RSS MB', 'page MB'], rows)}\n`;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
