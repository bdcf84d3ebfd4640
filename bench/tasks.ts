/**
 * The stage contract's own cost: the coreset on LAION-layout embeddings with --tasks 1 and --tasks 64 (wall
 * time, files per step, plan and marker sizes), interleaved and best of REPEAT; and the fixed cost of one
 * `mmcurate task` launch (process start, plan read, marker check) on a done task.
 * Env: MMCURATE_BENCH_TASKS_ROWS (default 400,000), _DIM (256), _PARTS (64), _K (400).
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { synthClustered, writeLaionEmbeddings } from '../src/coreset/synth.js';
import { ROOT, table, timeCli } from './util.js';

const ROWS = Number(process.env.MMCURATE_BENCH_TASKS_ROWS ?? 400_000);
const DIM = Number(process.env.MMCURATE_BENCH_TASKS_DIM ?? 256);
const PARTS = Number(process.env.MMCURATE_BENCH_TASKS_PARTS ?? 64);
const K = Number(process.env.MMCURATE_BENCH_TASKS_K ?? 400);
const REPEAT = 2;

function walk(dir: string): { file: string; bytes: number }[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((file) => ({ file, bytes: statSync(file).size }));
}

export async function benchTasks(): Promise<string> {
  const data = path.join(ROOT, '.bench', 'tasks', `laion-${ROWS}x${DIM}-p${PARTS}`);
  if (!existsSync(path.join(data, 'img_emb'))) {
    const s = synthClustered({ rows: ROWS, dim: DIM, clusters: K, dupFraction: 0.3, seed: 5 });
    await writeLaionEmbeddings(data, s, { parts: PARTS, dtype: 'float16' });
  }
  const args = (tasks: number, out: string) => ['coreset', '--input', data, '--recipe', 'bunny-laion-2m', '--k', String(K), '--target', String(Math.floor(ROWS / 10)), '--tasks', String(tasks), '--keep-work', '--quiet', '--out', out];
  const best: Record<number, number> = {};
  const outs: Record<number, string> = {};
  for (let i = 0; i < REPEAT; i++) {
    for (const tasks of [1, 64]) {
      const out = path.join(ROOT, '.bench', 'tasks', `out-${tasks}`);
      rmSync(out, { recursive: true, force: true });
      const t = timeCli(args(tasks, out));
      best[tasks] = Math.min(best[tasks] ?? Infinity, t.seconds);
      outs[tasks] = out;
    }
  }
  const rows: (string | number)[][] = [];
  for (const tasks of [1, 64]) {
    const out = outs[tasks]!;
    const plans = walk(path.join(out, '_plan'));
    const markers = walk(path.join(out, '_tasks')).filter((f) => f.file.endsWith('.done.json'));
    const work = walk(path.join(out, '_work'));
    const count = (sub: string) => work.filter((f) => f.file.includes(`${path.sep}${sub}${path.sep}`)).length;
    rows.push([
      String(tasks),
      best[tasks]!,
      String(markers.length),
      `${Math.max(...plans.map((p) => p.bytes)).toLocaleString('en-US')} B`,
      `${Math.max(...markers.map((m) => m.bytes)).toLocaleString('en-US')} B`,
      String(count('assign')),
      String(count('rows')),
      String(walk(path.join(out, 'data')).length),
    ]);
  }
  // one task launch on a done task: what every backend pays per task before any work
  const launches: number[] = [];
  for (let i = 0; i < 5; i++) launches.push(timeCli(['task', outs[64]!, '--step', 'write', '--rank', '3']).seconds);
  launches.sort((a, b) => a - b);
  return `## The stage contract: coreset with --tasks 1 and 64 (${ROWS.toLocaleString('en-US')} x ${DIM} float16 in ${PARTS} parts, k = ${K}, best of ${REPEAT}, interleaved)

${table(['--tasks', 'wall s', 'markers', 'largest plan', 'largest marker', 'assign spill files', 'dedup row files', 'shards'], rows)}

Overhead of --tasks 64 against --tasks 1: ${(((best[64]! - best[1]!) / best[1]!) * 100).toFixed(1)}% wall time. One \`mmcurate task\` launch on a done task (node start, module load, plan read, marker check): median ${launches[2]!.toFixed(2)} s.
`;
}
