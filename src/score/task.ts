/**
 * The score stage's tasks (run by src/run/executor.ts). Phase `score`: embed every row of the task's input
 * shards, write scored rows (or reject them with a reason), optionally apply --min-clip-score and emit the
 * clip-retrieval layout. Phase `filter` (only for --keep-top): re-read the scored rows and keep those above the
 * global cut computed from every task's scores.
 *
 * The model and the preprocessing pool are cached per process: tasks run one after another in-process (one
 * model per machine), and reloading ONNX sessions per shard would cost seconds each.
 */
import path from 'node:path';
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import type { Kind } from '../records.js';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import type { Device } from '../onnx.js';
import { Accounting } from '../write/accounting.js';
import { writeFileAtomic } from '../write/atomic.js';
import { RejectWriter } from '../write/rejects.js';
import { ShardWriter, type ShardInfo } from '../write/shard-writer.js';
import type { Compression } from '../write/compression.js';
import { RetrievalEmitter, type EmitRow } from './emit.js';
import { ScoreEngine, type ScoreInput } from './engine.js';
import { passesMinScore, TopFractionFilter } from './filters.js';
import { loadModel, type ClipModel } from './model.js';
import { unpackFloat16 } from '../util/float16.js';
import { type Row, toOutputRow, toScoreInput } from './rows.js';
import { Heads, type HeadSpec } from './heads.js';

export interface ModelSpec {
  dir?: string;
  variant?: string;
  device: Device;
  batch: number;
  workers?: number;
  maxPixels?: number;
}

export interface ScoreSpec {
  phase: 'score' | 'filter';
  kind: Kind;
  /** Shards to read (input shards, or the staging shards in the filter phase), absolute, with display names. */
  shards: { abs: string; rel: string }[];
  /** Shard indexes per rank. */
  assignment: number[][];
  columns: string[];
  embedText: boolean;
  minClipScore?: number;
  /** --keep-top: the score phase writes here and records its scores; the filter phase writes the output. */
  staging?: string;
  emitNpy: boolean;
  model: ModelSpec;
  shard: { maxShardRows?: number; maxShardBytes?: number; maxRowGroupBytes?: number; compression?: Compression };
  /** Filter phase: the cut and each rank's share of the ties at the threshold. */
  cut?: { threshold: number; ties: number[] };
  /** Filter phase: the `mmcurate` key-value metadata the score phase wrote. */
  kv?: Record<string, unknown>;
  /** Offset for reject file names in the filter phase, so both phases' rejects coexist. */
  rejectRankOffset?: number;
  /** ONNX heads run on each batch's image embeddings (caption pairs): their scores go to head_scores. */
  heads?: HeadSpec[];
}

export interface ScoreExtra {
  [key: string]: unknown;
  embedding_dim: number;
  model: string;
  test_encoder: boolean;
  provider: string;
  scored: number;
  unscored: number;
  low_clip_score: number;
  truncated_texts: number;
  vision_ms: number;
  text_ms: number;
  starved_ms: number;
  model_load_ms: number;
}

let cached: { key: string; model: ClipModel; engine: ScoreEngine; loadMs: number } | undefined;

async function engineFor(m: ModelSpec): Promise<{ model: ClipModel; engine: ScoreEngine; loadMs: number }> {
  const key = JSON.stringify(m);
  if (cached?.key === key) return { ...cached, loadMs: 0 };
  await closeCachedEngine();
  const t0 = performance.now();
  const model = await loadModel(m.dir, { device: m.device, variant: m.variant, maxPixels: m.maxPixels });
  const engine = new ScoreEngine(model, { batchSize: m.batch, workers: m.workers });
  cached = { key, model, engine, loadMs: Math.round(performance.now() - t0) };
  return cached;
}

/** Release the cached model and its worker threads (call once the stage is done). */
export async function closeCachedEngine(): Promise<void> {
  if (!cached) return;
  const c = cached;
  cached = undefined;
  await c.engine.close();
  await c.model.close();
}

export function scoresFile(outDir: string, rank: number): string {
  return path.join(outDir, '_tasks', 'score', `${String(rank).padStart(5, '0')}.scores.f64`);
}

interface Located {
  row: Row;
  rel: string;
  index: number;
}

async function* readShards(spec: ScoreSpec, rank: number, columns?: string[]): AsyncGenerator<Located[]> {
  for (const i of spec.assignment[rank] ?? []) {
    const s = spec.shards[i]!;
    const pf = await openParquet(s.abs);
    for (const g of pf.groups) {
      for (const sl of slices(g, 1024)) {
        const rows = await readRowGroup(pf, sl, columns);
        yield rows.map((row, k) => ({ row, rel: s.rel, index: sl.start + k }));
      }
    }
  }
}

export async function runTask(spec: ScoreSpec, ctx: TaskContext): Promise<TaskOutput> {
  return spec.phase === 'score' ? scorePhase(spec, ctx) : filterPhase(spec, ctx);
}

function emitRow(kind: Kind, row: Row, score: number | null, dims: { width?: number; height?: number }): EmitRow {
  const n = (v: unknown) => (typeof v === 'number' ? v : null);
  return {
    id: String(row.id ?? ''),
    caption: typeof row.text === 'string' ? row.text : null,
    url: typeof row.url === 'string' ? row.url : null,
    similarity: kind === 'caption' ? score : null,
    width: n(row.width) ?? dims.width ?? null,
    height: n(row.height) ?? dims.height ?? null,
    source: typeof row.source === 'string' ? row.source : null,
  };
}

async function scorePhase(spec: ScoreSpec, ctx: TaskContext): Promise<TaskOutput> {
  const { model, engine, loadMs } = await engineFor(spec.model);
  const kv = { embedding_dim: model.dim, model: model.name, test_encoder: model.isTestEncoder, stage: 'score' };
  const writerDir = spec.staging ?? ctx.outDir;
  const writer = new ShardWriter({ outDir: writerDir, layout: spec.kind, rank: ctx.rank, stage: 'score', columns: spec.columns, kvMetadata: kv, ...spec.shard });
  const rejects = new RejectWriter(ctx.outDir, ctx.rank, 'score');
  const acct = new Accounting();
  const emitter = spec.emitNpy && !spec.staging ? await RetrievalEmitter.create(ctx.outDir, ctx.rank, model.dim, spec.kind === 'caption', true, spec.shard.compression) : null;
  const scores: number[] = [];
  const extra: ScoreExtra = {
    embedding_dim: model.dim, model: model.name, test_encoder: model.isTestEncoder, provider: model.provider,
    scored: 0, unscored: 0, low_clip_score: 0, truncated_texts: 0, vision_ms: 0, text_ms: 0, starved_ms: 0, model_load_ms: loadMs,
  };
  const before = { ...engine.stats };

  async function* inputs(): AsyncGenerator<ScoreInput<Located>[]> {
    for await (const batch of readShards(spec, ctx.rank)) yield batch.map((l) => toScoreInput(spec.kind, l.row, l, spec.embedText));
  }

  const heads = spec.heads?.length ? await Heads.load(spec.heads, model.dim, spec.model.device) : undefined;
  for await (const outs of engine.score(inputs())) {
    const results = outs.map((out) => toOutputRow(spec.kind, out.key.row, out));
    // the heads run once per batch, on the embeddings of the rows kept
    if (heads) {
      const withImage = results.flatMap((r) => (r.kept && r.image ? [r] : []));
      const scores = await heads.run(withImage.map((r) => r.image!));
      withImage.forEach((r, i) => (r.row = { ...r.row, head_scores: JSON.stringify(scores[i]) }));
    }
    for (let o = 0; o < outs.length; o++) {
      const out = outs[o]!;
      const { row, rel, index } = out.key;
      const source = String(row.source ?? 'unknown');
      const r = results[o]!;
      if (!r.kept) {
        rejects.write({ source, file: rel, location: `row ${index}`, reason: r.reason, detail: r.detail, id: row.id as string | undefined });
        acct.rejected(source, r.reason);
        continue;
      }
      if (r.score === null) extra.unscored++;
      else extra.scored++;
      if (spec.minClipScore !== undefined && r.score !== null && !passesMinScore(r.score, spec.minClipScore)) {
        rejects.write({ source, file: rel, location: `row ${index}`, reason: 'low_clip_score', detail: `clip_score ${r.score.toFixed(4)} < ${spec.minClipScore}`, id: row.id as string | undefined, clip_score: r.score });
        acct.rejected(source, 'low_clip_score');
        extra.low_clip_score++;
        continue;
      }
      writer.write(r.row);
      acct.kept(source);
      if (spec.staging) scores.push(r.score ?? NaN);
      const img = out.images[0];
      const dims = img && img.ok ? { width: img.width, height: img.height } : {};
      if (emitter) await emitter.add(emitRow(spec.kind, row, r.score, dims), r.image, r.text);
    }
    ctx.report(outs.length, outs.length);
  }

  const shards = writer.close();
  const rej = rejects.close();
  if (emitter) await emitter.close();
  if (heads) await heads.close();
  if (spec.staging) {
    writeFileAtomic(scoresFile(ctx.outDir, ctx.rank), new Uint8Array(Float64Array.from(scores).buffer));
  }
  extra.truncated_texts = engine.stats.truncatedTexts - before.truncatedTexts;
  extra.vision_ms = Math.round(engine.stats.visionMs - before.visionMs);
  extra.text_ms = Math.round(engine.stats.textMs - before.textMs);
  extra.starved_ms = Math.round(engine.stats.starvedMs - before.starvedMs);
  if (spec.staging) {
    // --keep-top: the staged rows and the scores are intermediate files the cut and filter steps read
    const staged = shards.map((s) => path.relative(ctx.outDir, path.join(spec.staging!, s.path)));
    const files = [...staged, path.relative(ctx.outDir, scoresFile(ctx.outDir, ctx.rank))];
    return { shards: [], files, ...(rej ? { rejects: rej } : {}), stats: acct.sources, extra: { ...extra, staged: shards } };
  }
  return { shards, ...(rej ? { rejects: rej } : {}), stats: acct.sources, extra };
}

export async function filterPhase(spec: ScoreSpec, ctx: TaskContext): Promise<TaskOutput> {
  const cut = spec.cut!;
  const filter = new TopFractionFilter({ threshold: cut.threshold, tiesKept: cut.ties[ctx.rank] ?? 0, keep: 0, total: 0 });
  const writer = new ShardWriter({ outDir: ctx.outDir, layout: spec.kind, rank: ctx.rank, stage: 'score', columns: spec.columns, kvMetadata: spec.kv, ...spec.shard });
  const rejects = new RejectWriter(ctx.outDir, ctx.rank + (spec.rejectRankOffset ?? 0), 'score');
  const acct = new Accounting();
  const dim = Number(spec.kv?.embedding_dim ?? 0);
  const emitter = spec.emitNpy ? await RetrievalEmitter.create(ctx.outDir, ctx.rank, dim, spec.kind === 'caption', true, spec.shard.compression) : null;
  const emb = (v: unknown) => (v instanceof Uint8Array ? unpackFloat16(v) : undefined);
  let low = 0;
  for await (const batch of readShards(spec, ctx.rank)) {
    for (const { row, rel, index } of batch) {
      const source = String(row.source ?? 'unknown');
      const score = typeof row.clip_score === 'number' ? row.clip_score : null;
      // Rows without a score (text, interleaved with only remote images) are not ranked and pass through.
      if (score !== null && !filter.keep(score)) {
        rejects.write({ source, file: rel, location: `row ${index}`, reason: 'low_clip_score', detail: `clip_score ${score.toFixed(4)} below the top-fraction cut ${cut.threshold.toFixed(4)}`, id: row.id as string | undefined, clip_score: score });
        acct.rejected(source, 'low_clip_score');
        low++;
        continue;
      }
      writer.write(row);
      acct.kept(source);
      if (emitter) await emitter.add(emitRow(spec.kind, row, score, {}), emb(row.image_embedding), emb(row.text_embedding));
    }
    ctx.report(batch.length, batch.length);
  }
  const shards: ShardInfo[] = writer.close();
  const rej = rejects.close();
  if (emitter) await emitter.close();
  return { shards, ...(rej ? { rejects: rej } : {}), stats: acct.sources, extra: { low_clip_score: low } };
}
