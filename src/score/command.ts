/**
 * `mmcurate score`: CLIP embeddings and scores for a dataset, with LAION's absolute threshold or DataComp's
 * top fraction as optional filters, and the clip-retrieval embedding layout on request.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { bool, formatHelp, num, parseFlagsOnly, required, str, type Flags, type Parsed } from '../cli/args.js';
import { summarize } from '../cli/summary.js';
import { openDataset } from '../io/dataset.js';
import { DEVICES, type Device } from '../onnx.js';
import { isKind } from '../records.js';
import { markerPath, runStage, type TaskResult } from '../run/executor.js';
import { Progress } from '../run/progress.js';
import { buildManifest, writeManifest, type Manifest, type Step } from '../write/manifest.js';
import { topFractionCut } from './filters.js';
import { scoreColumns } from './rows.js';
import { closeCachedEngine, scoresFile, type ScoreExtra, type ScoreSpec } from './task.js';

const flags: Flags = {
  input: { type: 'string', help: 'a dataset folder written by an earlier stage (ingest)' },
  out: { type: 'string', help: 'output folder' },
  model: { type: 'string', help: 'model folder (HF / Transformers.js CLIP or SigLIP export, or an OpenCLIP export in Immich\'s layout, see docs/score.md); default: the embedded TEST encoder' },
  'model-variant': { type: 'string', help: 'ONNX file variant: fp32 (default), fp16, quantized, int8, uint8, q4, ...' },
  device: { type: 'string', help: 'auto (default: CUDA when its provider loads, else CPU) | cuda | cpu' },
  batch: { type: 'number', help: 'model batch size (default 64)' },
  workers: { type: 'number', help: 'image decoding threads (default: CPU count - 1)' },
  'embed-text': { type: 'boolean', help: 'also embed text documents (text datasets: adds text_embedding)' },
  'min-clip-score': { type: 'number', help: "drop rows whose clip_score is below X (LAION-2B used 0.28 with ViT-B/32)" },
  'keep-top': { type: 'number', help: "keep the top fraction F of rows by clip_score over the whole input (DataComp's baseline: 0.3)" },
  'emit-npy': { type: 'boolean', help: 'also write img_emb/, text_emb/ (.npy, float16) and metadata/ parts, row-aligned (clip-retrieval layout)' },
  'max-pixels': { type: 'number', integer: true, min: 1, help: 'refuse images with more pixels than this (default 89478485, as ingest: PIL\'s decompression-bomb threshold)' },
  'shard-rows': { type: 'number', integer: true, min: 1, help: 'rows per shard at most (default 1,000,000)' },
  quiet: { type: 'boolean', help: 'no progress output' },
};

export const help = formatHelp(
  'mmcurate score --input DIR [--model MODEL_DIR] [--device auto|cuda|cpu] [--batch N] [--embed-text] [--min-clip-score X | --keep-top F] [--emit-npy] --out DIR',
  `Embeds images and texts with a CLIP-style ONNX model and adds clip_score (cosine of the L2-normalised embeddings),
image_embedding and text_embedding (float16, dimension in the Parquet metadata) to caption pairs; for interleaved
documents each image is scored against its neighbouring text segments (image_scores) and the document gets their mean
(clip_score). Undecodable, empty or oversized images and NaN/zero-norm embeddings are rejected with a reason.
Without --model the embedded TEST encoder runs: it only knows colour and shape words and is for the demo and tests.`,
  flags,
);

export interface ScoreOptions {
  input: string;
  out: string;
  model?: string;
  variant?: string;
  device?: Device;
  batch?: number;
  workers?: number;
  embedText?: boolean;
  minClipScore?: number;
  keepTop?: number;
  emitNpy?: boolean;
  maxPixels?: number;
  shardRows?: number;
  quiet?: boolean;
  command?: string[];
}

/** Run the stage; returns the manifest it wrote. */
export async function score(o: ScoreOptions): Promise<Manifest> {
  const ds = openDataset(o.input);
  const kind = ds.manifest.layout;
  if (!isKind(kind)) throw new UsageError(`--input ${o.input}: score reads caption, interleaved or text datasets, not ${kind}`);
  if (kind === 'text' && !o.embedText) throw new UsageError(`--input ${o.input} holds text documents: nothing to score; pass --embed-text to add text embeddings`);
  if (o.minClipScore !== undefined && o.keepTop !== undefined) throw new UsageError('mmcurate score: use --min-clip-score or --keep-top, not both');
  if (o.keepTop !== undefined && !(o.keepTop > 0 && o.keepTop <= 1)) throw new UsageError(`mmcurate score: --keep-top must be a fraction in (0, 1], got ${o.keepTop}`);
  if (o.emitNpy && kind === 'interleaved') throw new UsageError('mmcurate score: --emit-npy writes one embedding per row, which interleaved documents (several images each) do not have');
  if (path.resolve(o.out) === path.resolve(o.input)) throw new UsageError('mmcurate score: --out must differ from --input');
  const modelDir = o.model ? path.resolve(o.model) : undefined;
  if (modelDir && !existsSync(modelDir)) throw new UsageError(`--model ${o.model}: no such folder (see docs/score.md for where to get CLIP weights)`);

  const added = scoreColumns(kind, !!o.embedText);
  const columns = [...new Set([...(ds.manifest.columns ?? []), ...added])];
  const shards = ds.shardPaths.map((abs, i) => ({ abs, rel: ds.manifest.shards[i]!.path }));
  const world = Math.max(1, shards.length);
  const keepTop = o.keepTop !== undefined;
  const staging = keepTop ? path.join(o.out, '_staging') : undefined;
  const shardOpts = { maxShardRows: o.shardRows };
  const base: ScoreSpec = {
    phase: 'score',
    kind,
    shards,
    assignment: Array.from({ length: world }, (_, r) => (r < shards.length ? [r] : [])),
    columns,
    embedText: !!o.embedText,
    minClipScore: o.minClipScore,
    staging,
    emitNpy: !!o.emitNpy,
    model: { dir: modelDir, variant: o.variant, device: o.device ?? 'auto', batch: o.batch ?? 64, workers: o.workers, maxPixels: o.maxPixels },
    shard: shardOpts,
  };

  let results: TaskResult[];
  let filtered: TaskResult[] | undefined;
  try {
    // One model per machine: tasks run one after another in this process and share it.
    const scorePass = async (total: number) => {
      const progress = new Progress('score', total, 'rows', o.quiet);
      const r = await runStage({ outDir: o.out, stage: 'score', world, workers: 1, taskModule: new URL('./task.js', import.meta.url).href, spec: base, progress });
      progress.finish();
      return r;
    };
    results = await scorePass(ds.manifest.rows);
    if (keepTop) {
      // The filter pass depends on the first pass's scores files (all of them: the cut is global) and on the staged
      // rows of every filter task still to run. `_staging/` is removed once a run is complete, and any of these files
      // may be lost: a score task whose files a later step needs is invalidated (its marker removed) and run again,
      // which rewrites the same rows and scores. A complete output needs no staging, so its re-run stays a no-op.
      const redo = staleScoreTasks(o.out, staging!, results);
      if (redo.length) {
        if (!o.quiet) process.stderr.write(`score: re-scoring ${redo.length} task(s) whose staged rows or scores the --keep-top filter pass needs and are gone\n`);
        for (const r of redo) rmSync(markerPath(o.out, 'score', r), { force: true });
        results = await scorePass(redo.reduce((a, r) => a + (r < shards.length ? ds.manifest.shards[r]!.rows : 0), 0));
      }
      filtered = await keepTopPass(o, base, results, world);
    }
  } finally {
    await closeCachedEngine();
  }

  const first = results.find((r) => r.extra)?.extra as ScoreExtra | undefined;
  const sum = (k: keyof ScoreExtra) => results.reduce((a, r) => a + Number((r.extra as ScoreExtra | undefined)?.[k] ?? 0), 0);
  const read = results.reduce((a, r) => a + Object.values(r.stats).reduce((b, s) => b + s.read, 0), 0);
  const failed = results.reduce((a, r) => a + Object.values(r.stats).reduce((b, s) => b + s.rejected - (s.rejected_by_reason.low_clip_score ?? 0), 0), 0);
  const steps: Step[] = [{ name: 'score', in: read, out: read - failed }];
  let final = results;
  if (o.minClipScore !== undefined) steps.push({ name: `min_clip_score ${o.minClipScore}`, in: read - failed, out: read - failed - sum('low_clip_score') });
  if (filtered) {
    const kept = filtered.reduce((a, r) => a + r.shards.reduce((b, s) => b + s.rows, 0), 0);
    steps.push({ name: `keep_top ${o.keepTop}`, in: read - failed, out: kept });
    final = combine(results, filtered);
  }
  const manifest = buildManifest({
    stage: 'score',
    layout: kind,
    command: o.command ?? ['mmcurate', 'score'],
    results: final,
    columns,
    steps,
    extra: {
      input: path.resolve(o.input),
      model: {
        name: first?.model ?? null,
        dir: modelDir ?? 'embedded TEST encoder (models/test-clip)',
        test_encoder: first?.test_encoder ?? modelDir === undefined,
        embedding_dim: first?.embedding_dim ?? null,
        provider: first?.provider ?? null,
        variant: o.variant ?? 'fp32',
      },
      scores: { scored: sum('scored'), unscored: sum('unscored'), truncated_texts: sum('truncated_texts') },
      timings_ms: { model_load: sum('model_load_ms'), vision: sum('vision_ms'), text: sum('text_ms'), model_waiting_for_input: sum('starved_ms') },
      ...(o.emitNpy ? { npy: { img_emb: kind === 'caption' ? 'img_emb/img_emb_{i}.npy' : null, text_emb: 'text_emb/text_emb_{i}.npy', metadata: 'metadata/metadata_{i}.parquet', parts: world, dtype: 'float16' } } : {}),
    },
  });
  writeManifest(o.out, manifest);
  if (staging) rmSync(staging, { recursive: true, force: true });
  return manifest;
}

/**
 * Ranks of finished score tasks whose outputs the --keep-top filter pass still needs but which are gone: the scores
 * file (every rank's is read for the global cut), or a staged shard of a rank whose filter task has no marker.
 */
function staleScoreTasks(out: string, staging: string, results: TaskResult[]): number[] {
  return results
    .filter((r) => !existsSync(scoresFile(out, r.rank)) || (!existsSync(markerPath(out, 'score-filter', r.rank)) && r.shards.some((s) => !existsSync(path.join(staging, s.path)))))
    .map((r) => r.rank);
}

/** Second pass of --keep-top: the exact global cut from every task's scores, then each task keeps its share. */
async function keepTopPass(o: ScoreOptions, base: ScoreSpec, results: TaskResult[], world: number): Promise<TaskResult[]> {
  const perRank = results.map((r) => {
    const file = scoresFile(o.out, r.rank);
    const b = readFileSync(file);
    return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
  });
  const all = new Float64Array(perRank.reduce((a, s) => a + s.length, 0));
  let off = 0;
  for (const s of perRank) {
    all.set(s, off);
    off += s.length;
  }
  const cut = topFractionCut(all, o.keepTop!);
  // Ties at the threshold go to the lowest ranks first, rows in order: deterministic, and exactly `keep` kept.
  let left = cut.tiesKept;
  const ties = perRank.map((s) => {
    let n = 0;
    for (const v of s) if (v === cut.threshold) n++;
    const mine = Math.min(n, left);
    left -= mine;
    return mine;
  });
  const staged = results.flatMap((r) => r.shards.map((s) => ({ rank: r.rank, s })));
  const first = results.find((r) => r.extra)?.extra as ScoreExtra | undefined;
  const spec: ScoreSpec = {
    ...base,
    phase: 'filter',
    shards: staged.map(({ s }) => ({ abs: path.join(base.staging!, s.path), rel: path.join('_staging', s.path) })),
    assignment: Array.from({ length: world }, (_, r) => staged.flatMap((x, i) => (x.rank === r ? [i] : []))),
    staging: undefined,
    cut: { threshold: cut.threshold, ties },
    kv: { embedding_dim: first?.embedding_dim ?? 0, model: first?.model ?? '', test_encoder: first?.test_encoder ?? false, stage: 'score' },
    rejectRankOffset: world,
  };
  const progress = new Progress('score keep-top', all.length, 'rows', o.quiet);
  const out = await runStage({ outDir: o.out, stage: 'score-filter', world, workers: 1, taskModule: new URL('./task.js', import.meta.url).href, spec, progress });
  progress.finish();
  return out;
}

/** Stats of both passes, so read = kept + rejected once: pass 1 contributes reads and its rejects, pass 2 the kept rows. */
function combine(first: TaskResult[], second: TaskResult[]): TaskResult[] {
  const p1 = first.map((r) => {
    const stats = Object.fromEntries(Object.entries(r.stats).map(([k, s]) => [k, { ...s, kept: 0 }]));
    return { ...r, shards: [], stats };
  });
  const p2 = second.map((r) => {
    const stats = Object.fromEntries(Object.entries(r.stats).map(([k, s]) => [k, { ...s, read: 0 }]));
    return { ...r, stats };
  });
  return [...p1, ...p2];
}


/** Checks an argv without running (a pipeline checks every stage before the first runs). */
export function check(argv: string[]): void {
  parse(argv);
}

function parse(argv: string[]): Parsed {
  return parseFlagsOnly(argv, flags, 'score', 'score reads one dataset, --input DIR (boolean flags take no value)');
}

export async function run(argv: string[]): Promise<number> {
  const p = parse(argv);
  if (p.help) {
    process.stdout.write(help);
    return 0;
  }
  const device = str(p, 'device') ?? 'auto';
  if (!(DEVICES as readonly string[]).includes(device)) throw new UsageError(`mmcurate score: unsupported --device "${device}". Should be one of: ${DEVICES.join(', ')}`);
  const batch = num(p, 'batch');
  if (batch !== undefined && !(Number.isInteger(batch) && batch > 0)) throw new UsageError(`mmcurate score: --batch must be a positive integer, got ${batch}`);
  const workers = num(p, 'workers');
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0)) throw new UsageError(`mmcurate score: --workers must be a whole number, got ${workers}`);
  const out = required(p, 'out', 'score');
  const m = await score({
    input: required(p, 'input', 'score'),
    out,
    model: str(p, 'model'),
    variant: str(p, 'model-variant'),
    device: device as Device,
    batch,
    workers,
    embedText: bool(p, 'embed-text'),
    minClipScore: num(p, 'min-clip-score'),
    keepTop: num(p, 'keep-top'),
    emitNpy: bool(p, 'emit-npy'),
    maxPixels: num(p, 'max-pixels'),
    shardRows: num(p, 'shard-rows'),
    quiet: bool(p, 'quiet'),
    command: ['mmcurate', 'score', ...argv],
  });
  process.stdout.write(summarize(m, out) + '\n');
  return 0;
}
