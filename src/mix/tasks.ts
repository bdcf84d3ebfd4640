/**
 * The mix stage's tasks (command.ts declares the steps):
 * - select (global): the plan and the selection, persisted to `_work/mix/` (select.json, the sources' rows and
 *   the position index as binary arrays) so any machine can run the next steps;
 * - map (rank r of N): a contiguous run of the input shards, read once; selected rows spilled to one file per
 *   task with a segment per bucket of output positions;
 * - write (rank r of N): a contiguous run of buckets, each filled from every map file and written in order, so
 *   the shards read in rank order are the mixture's order whatever N is;
 * - manifest (global): the merge, and the clean-up of `_work/mix`.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { contiguous, type TaskContext, type TaskOutput } from '../run/contract.js';
import { readResults } from '../run/markers.js';
import { writeFileAtomic } from '../write/atomic.js';
import { buildManifest, writeManifest } from '../write/manifest.js';
import { ShardWriter } from '../write/shard-writer.js';
import { reportTail, selectMix, type MixSelection } from './command.js';
import type { PromptCounts } from './prompts.js';
import type { Seed } from './random.js';
import { mapShards, mixLayout, positionIndex, SegmentSpill, writeBuckets, type MapRequest, type MixLayout, type PositionIndex } from './write.js';
import type { Compression } from '../write/compression.js';

interface Spec {
  step: 'select' | 'map' | 'write' | 'manifest';
  work: string;
  argv?: string[];
  mapWorld?: number;
  writeWorld?: number;
  command?: string[];
}

/** select.json: the selection without its big arrays. */
interface Saved {
  datasets: MapRequest['datasets'];
  sources: { dataset: number; name: string; rows: number }[];
  prompts: (readonly string[] | undefined)[];
  seed: Seed;
  columns: string[];
  maxShardRows?: number;
  compression?: Compression;
  layout: MixLayout;
  keys: number;
  report: string;
  manifest: MixSelection['manifest'];
}

const files = (work: string) => ({
  select: path.join(work, 'select.json'),
  rows: path.join(work, 'source-rows.u32'),
  index: path.join(work, 'index.bin'),
  map: (r: number) => path.join(work, `map-${String(r).padStart(5, '0')}.bin`),
});

export async function runTask(spec: Spec, ctx: TaskContext): Promise<TaskOutput> {
  if (spec.step === 'select') return select(spec, ctx);
  if (spec.step === 'map') return map(spec, ctx);
  if (spec.step === 'write') return write(spec, ctx);
  return manifest(spec, ctx);
}

function u8(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

async function select(spec: Spec, ctx: TaskContext): Promise<TaskOutput> {
  const sel = await selectMix(spec.argv!, ctx.outDir);
  const f = files(spec.work);
  const layout = mixLayout(sel.datasets, sel.streams, undefined, spec.writeWorld ?? 1);
  const index = positionIndex(sel.sources.map((s) => s.rows.length), sel.streams);
  const rows = new Uint32Array(sel.sources.reduce((a, s) => a + s.rows.length, 0));
  let at = 0;
  for (const s of sel.sources) {
    rows.set(s.rows, at);
    at += s.rows.length;
  }
  writeFileAtomic(f.rows, u8(rows));
  // offset (float64, sources + 1), start (uint32, keys + 1), positions (uint32, total)
  const bin = new Uint8Array(index.offset.byteLength + index.start.byteLength + index.positions.byteLength);
  bin.set(u8(index.offset), 0);
  bin.set(u8(index.start), index.offset.byteLength);
  bin.set(u8(index.positions), index.offset.byteLength + index.start.byteLength);
  writeFileAtomic(f.index, bin);
  const saved: Saved = {
    datasets: sel.datasets.map((d) => ({ dir: d.dir, layout: d.manifest.layout, shards: d.shards, rows: d.rows })),
    sources: sel.sources.map((s) => ({ dataset: s.dataset, name: s.name, rows: s.rows.length })),
    prompts: sel.prompts,
    seed: sel.seed,
    columns: sel.columns,
    ...(sel.maxShardRows ? { maxShardRows: sel.maxShardRows } : {}),
    ...(sel.compression ? { compression: sel.compression } : {}),
    layout,
    keys: index.start.length - 1,
    report: sel.report,
    manifest: sel.manifest,
  };
  writeFileAtomic(f.select, JSON.stringify(saved));
  return { shards: [], stats: {}, files: [f.select, f.rows, f.index].map((x) => path.relative(ctx.outDir, x)), extra: { rows: layout.total, buckets: layout.buckets } };
}

/** The persisted selection, with the sources' rows and the position index as typed arrays. */
function load(work: string): { saved: Saved; req: MapRequest } {
  const f = files(work);
  const saved = loadSaved(work);
  const rowsBuf = readFileSync(f.rows);
  const all = new Uint32Array(rowsBuf.buffer, rowsBuf.byteOffset, rowsBuf.byteLength / 4);
  let at = 0;
  const sources = saved.sources.map((s) => {
    const rows = all.subarray(at, at + s.rows);
    at += s.rows;
    return { dataset: s.dataset, rows };
  });
  const ib = readFileSync(f.index);
  const nOff = (saved.sources.length + 1) * 8;
  const nStart = (saved.keys + 1) * 4;
  // copies: typed arrays need aligned offsets
  const index: PositionIndex = {
    offset: new Float64Array(ib.buffer.slice(ib.byteOffset, ib.byteOffset + nOff)),
    start: new Uint32Array(ib.buffer.slice(ib.byteOffset + nOff, ib.byteOffset + nOff + nStart)),
    positions: new Uint32Array(ib.buffer.slice(ib.byteOffset + nOff + nStart, ib.byteOffset + ib.byteLength)),
  };
  return { saved, req: { datasets: saved.datasets, sources, prompts: saved.prompts, seed: saved.seed, index, layout: saved.layout } };
}

/** Every input shard in order, as (dataset, shard), with its rows: what map tasks split. */
function inputShards(saved: Saved): { dataset: number; shard: number; rows: number }[] {
  return saved.datasets.flatMap((d, di) => d.shards.map((s, shard) => ({ dataset: di, shard, rows: s.rows })));
}

async function map(spec: Spec, ctx: TaskContext): Promise<TaskOutput> {
  const { saved, req } = load(spec.work);
  const all = inputShards(saved);
  const mine = contiguous(all.map((s) => s.rows), ctx.world)[ctx.rank]!.map((i) => all[i]!);
  const spill = new SegmentSpill(files(spec.work).map(ctx.rank), saved.layout.buckets);
  const prompts = await mapShards(req, mine, spill, (n) => ctx.report(0, n));
  ctx.report(mine.length, 0);
  const out = spill.close();
  return { shards: [], stats: {}, files: out.map((x) => path.relative(ctx.outDir, x)), extra: { prompts } };
}

async function write(spec: Spec, ctx: TaskContext): Promise<TaskOutput> {
  const saved = loadSaved(spec.work);
  const { layout } = saved;
  const sizes = Array.from({ length: layout.buckets }, (_, b) => Math.min(layout.bucketRows, layout.total - b * layout.bucketRows));
  const mine = contiguous(sizes, ctx.world)[ctx.rank]!;
  const writer = new ShardWriter({ outDir: ctx.outDir, layout: 'mixture', columns: saved.columns, rank: ctx.rank, stage: 'mix', ...(saved.maxShardRows ? { maxShardRows: saved.maxShardRows } : {}), ...(saved.compression ? { compression: saved.compression } : {}) });
  if (mine.length) {
    const maps = Array.from({ length: spec.mapWorld! }, (_, r) => files(spec.work).map(r));
    writeBuckets(maps, mine[0]!, mine[mine.length - 1]! + 1, layout, writer, (n) => ctx.report(n, n));
  }
  return { shards: writer.close(), stats: {} };
}

function loadSaved(work: string): Saved {
  return JSON.parse(readFileSync(files(work).select, 'utf8')) as Saved;
}

async function manifest(spec: Spec, ctx: TaskContext): Promise<TaskOutput> {
  const saved = loadSaved(spec.work);
  const prompts: Record<string, PromptCounts> = {};
  for (const r of readResults(ctx.outDir, 'map', spec.mapWorld!)) {
    for (const [name, c] of Object.entries((r.extra as { prompts: Record<string, PromptCounts> }).prompts)) {
      const t = (prompts[name] ??= { applied: 0, recorded: 0 });
      t.applied += c.applied;
      t.recorded += c.recorded;
    }
  }
  const written = readResults(ctx.outDir, 'write', spec.writeWorld!);
  const m = saved.manifest;
  const sorted = Object.fromEntries(Object.keys(prompts).sort().map((k) => [k, prompts[k]!]));
  const mf = buildManifest({
    stage: 'mix',
    layout: 'mixture',
    command: spec.command!,
    results: [{ rank: 0, shards: written.flatMap((r) => r.shards), stats: m.stats }],
    columns: m.columns,
    kinds: m.kinds,
    steps: m.steps,
    extra: { mix: { ...m.mix, prompts: sorted }, inputs: m.inputs },
  });
  mf.tasks = { world: spec.writeWorld! };
  writeManifest(ctx.outDir, mf);
  const report = saved.report + reportTail(mf, ctx.outDir);
  if (existsSync(spec.work)) rmSync(spec.work, { recursive: true, force: true });
  const parent = path.dirname(spec.work);
  if (existsSync(parent) && readdirSync(parent).length === 0) rmSync(parent, { recursive: true });
  return { shards: [], stats: {}, files: ['manifest.json'], extra: { report } };
}
