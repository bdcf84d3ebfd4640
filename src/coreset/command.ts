/**
 * `mmcurate coreset`: compress a scored set into a coreset the way Bunny built its LAION-2M (k-means
 * on CLIP image embeddings, in-cluster deduplication, a clip_score band, a centroid band, a seeded
 * sample) or deduplicate it the SemDeDup way. Recipes give the published values; flags override.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { bool, formatHelp, num, parseFlagsOnly, required, str, type Flags, type Parsed } from '../cli/args.js';
import { summarize } from '../cli/summary.js';
import { openDataset } from '../io/dataset.js';
import { openParquet } from '../io/parquet.js';
import { DEVICES, type Device } from '../onnx.js';
import { loadRecipe } from '../recipes/load.js';
import { markerPath, runStage, type TaskResult } from '../run/executor.js';
import { Progress } from '../run/progress.js';
import { tmpName, writeJsonAtomic } from '../write/atomic.js';
import { buildManifest, writeManifest, type Manifest, type Step } from '../write/manifest.js';
import type { CoresetConfig } from './config.js';
import { runEngine, type EngineResult } from './engine.js';
import { paths, type CoresetTaskSpec } from './layout.js';
import { resolveConfig, type CoresetFlags, type CoresetSection } from './recipe.js';
import { describeInput, type SourceSpec } from './source.js';
import type { WriteSettings } from './write.js';

const flags: Flags = {
  input: { type: 'string', help: 'a `mmcurate score` output, or a clip-retrieval/LAION folder (img_emb/*.npy, text_emb/*.npy, metadata/*.parquet)' },
  out: { type: 'string', help: 'output folder' },
  recipe: { type: 'string', help: 'recipe with a coreset section: bunny-laion-2m, semdedup, or a file' },
  k: { type: 'number', help: 'k-means clusters (Bunny: 100,000; SemDeDup: 50,000)' },
  niter: { type: 'number', help: 'k-means iterations (default 10)' },
  init: { type: 'string', help: 'random (faiss, default) | kmeans++' },
  'train-sample': { type: 'number', help: 'training sample size (default: 256 x k, faiss max_points_per_centroid)' },
  centroids: { type: 'string', help: 'use these centroids (.npy, k x dim) instead of training' },
  'dedup-rule': { type: 'string', help: 'middle | far | near | max-score (Bunny, connected components) | semdedup | none' },
  'dedup-threshold': { type: 'number', help: 'cosine: Bunny joins pairs above it (0.86); SemDeDup drops pairs at or above it (1 - eps)' },
  'clip-band': { type: 'string', help: 'keep this clip_score rank band, percent LO-HI from the top (Bunny: 40-60) | none' },
  'centroid-band': { type: 'string', help: 'then keep this band of cosine-to-centroid ranks (Bunny: 15-35) | none' },
  target: { type: 'string', help: 'finally a seeded random sample of N rows (Bunny: 2000000) | none' },
  seed: { type: 'number', help: 'seed of the training sample, initial centroids and final sample (default 1)' },
  device: { type: 'string', help: 'cpu (default) | cuda | auto: where the similarity products run' },
  threads: { type: 'number', integer: true, min: 1, help: 'onnxruntime threads (default: all cores)' },
  'bucket-mb': { type: 'number', above: 0, help: 'embeddings per dedup bucket in memory, MiB (default 256)' },
  'shard-rows': { type: 'number', integer: true, min: 1, help: 'rows per output shard at most (default 1,000,000)' },
  'keep-work': { type: 'boolean', help: 'keep OUT/_work (spilled buckets, row results) after a successful run' },
  quiet: { type: 'boolean', help: 'no progress output' },
};

export const help = formatHelp(
  'mmcurate coreset --input DIR --recipe bunny-laion-2m|semdedup|FILE [--k N] [--dedup-rule RULE] [--dedup-threshold COS] [--clip-band LO-HI|none] [--centroid-band LO-HI|none] [--target N|none] [--seed S] [--centroids F.npy] --out DIR',
  `Spherical k-means on the CLIP image embeddings (faiss's algorithm; the products run in onnxruntime), deduplication
inside each cluster (Bunny: connected components over cosine > 0.86, keep the member at the median distance to the
centroid; SemDeDup: drop every member with an earlier one at cosine >= 1 - eps), an exact rank band of clip_score, an
exact rank band of cosine to the centroid, then a seeded sample. Kept rows keep all their columns and gain cluster_id
and centroid_sim; every dropped row is in rejects with its step. Per-step counts are in the manifest (steps). The
centroids are saved as OUT/centroids.npy for reuse with --centroids. See docs/coreset.md.`,
  flags,
);

export interface CoresetOptions {
  input: string;
  out: string;
  recipe?: string;
  flags: CoresetFlags;
  shardRows?: number;
  keepWork?: boolean;
  quiet?: boolean;
  command?: string[];
}

const TASKS = new URL('./tasks.js', import.meta.url).href;

/** Run the stage; returns the manifest it wrote. */
export async function coreset(o: CoresetOptions): Promise<Manifest> {
  if (path.resolve(o.out) === path.resolve(o.input)) throw new UsageError('mmcurate coreset: --out must differ from --input');
  let section: CoresetSection | undefined;
  let recipeInfo: Record<string, unknown> | undefined;
  if (o.recipe) {
    const r = loadRecipe(o.recipe);
    if (!r.coreset) throw new UsageError(`--recipe ${o.recipe}: ${r.file} has no "coreset" section; use a coreset recipe (bunny-laion-2m, semdedup)`);
    section = r.coreset as CoresetSection;
    recipeInfo = { name: r.name, file: r.file, citation: r.citation };
  }
  const source = await describeInput(o.input);
  const cfg = resolveConfig(section, o.flags, o.recipe ?? 'flags');
  const log = (s: string): void => {
    if (!o.quiet) process.stderr.write(s + '\n');
  };

  const engineFile = path.join(paths.state(o.out), 'engine.json');
  let eng: Omit<EngineResult, 'cuts'> & { cuts: unknown };
  let spec: CoresetTaskSpec;
  const settings = await outputSettings(source);
  const summary = existsSync(engineFile) ? (JSON.parse(readFileSync(engineFile, 'utf8')) as typeof eng) : undefined;
  if (summary && JSON.stringify(summary.spec.cfg) !== JSON.stringify(cfg)) {
    throw new UsageError(`${o.out} holds a finished coreset run with other settings; choose another --out or delete it`);
  }
  const toWrite = unwrittenParts(o.out, source.parts.length);
  if (summary && toWrite === 0 && existsSync(path.join(o.out, 'manifest.json'))) {
    // A finished run: its write markers and summary are all a re-run needs.
    eng = summary;
    spec = { ...eng.spec, write: settings };
  } else {
    // Anything else resumes in the engine, which rebuilds the row results (`_work` is gone after a
    // success) only when a write task must run again.
    const e = await runEngine(source, cfg, { outDir: o.out, log, quiet: o.quiet, needRows: toWrite > 0 });
    spec = { ...e.spec, write: settings };
    eng = e;
  }
  const progress = new Progress('coreset write', source.total, 'rows', o.quiet);
  const t0 = performance.now();
  const results = await runStage<CoresetTaskSpec>({ outDir: o.out, stage: 'coreset-write', world: source.parts.length, workers: 1, taskModule: TASKS, spec: { ...spec, write: { ...(spec.write as WriteSettings), maxShardRows: o.shardRows } }, progress });
  progress.finish();
  const seconds = { ...eng.seconds, write: (performance.now() - t0) / 1000 };

  const work = paths.work(o.out);
  if (existsSync(paths.centroids(work))) {
    const to = path.join(o.out, 'centroids.npy');
    copyFileSync(paths.centroids(work), tmpName(to));
    renameSync(tmpName(to), to);
  }
  const manifest = buildManifest({
    stage: 'coreset',
    layout: (spec.write as WriteSettings).layout,
    command: o.command ?? ['mmcurate', 'coreset'],
    results,
    columns: (spec.write as WriteSettings).columns,
    steps: steps(cfg, eng.counts, results),
    extra: {
      input: path.resolve(o.input),
      input_layout: source.layout,
      recipe: recipeInfo ?? null,
      coreset: describeConfig(cfg),
      kmeans: { ...eng.kmeans, centroids: 'centroids.npy' },
      dedup: eng.dedup,
      bands: eng.cuts,
      timings_s: seconds,
    },
  });
  writeManifest(o.out, manifest);
  writeJsonAtomic(engineFile, { ...eng, seconds });
  if (!o.keepWork) {
    rmSync(work, { recursive: true, force: true });
    const parent = path.dirname(work);
    if (existsSync(parent) && readdirSync(parent).length === 0) rmSync(parent, { recursive: true });
  }
  return manifest;
}

/**
 * How many write tasks have to run: those without a marker, and those whose shards or rejects are gone
 * (their marker is removed, so the executor runs them again).
 */
function unwrittenParts(out: string, parts: number): number {
  let n = 0;
  for (let p = 0; p < parts; p++) {
    const marker = markerPath(out, 'coreset-write', p);
    if (!existsSync(marker)) {
      n++;
      continue;
    }
    const done = JSON.parse(readFileSync(marker, 'utf8')) as TaskResult;
    const files = [...done.shards.map((x) => x.path), ...(done.rejects ? [done.rejects.path] : [])];
    if (files.every((f) => existsSync(path.join(out, f)))) continue;
    rmSync(marker);
    n++;
  }
  return n;
}

/** The output's layout, columns and Parquet key-value metadata. */
async function outputSettings(source: SourceSpec): Promise<WriteSettings> {
  if (source.layout === 'dataset') {
    const ds = openDataset(source.dir);
    const first = ds.shardPaths[0] ? await openParquet(ds.shardPaths[0]) : undefined;
    let kv: Record<string, unknown> = {};
    try {
      kv = JSON.parse(first?.kv.mmcurate ?? '{}') as Record<string, unknown>;
    } catch {
      /* keep empty */
    }
    const layout = ds.manifest.layout;
    if (layout !== 'caption' && layout !== 'interleaved' && layout !== 'text') throw new UsageError(`--input ${source.dir}: a ${layout} dataset cannot be clustered; give the scored caption dataset`);
    return { layout, columns: [...new Set([...(ds.manifest.columns ?? []), 'cluster_id', 'centroid_sim'])], kv: { ...kv, stage: 'coreset' } };
  }
  const columns = ['image_embedding', ...(source.scores ? ['text_embedding', 'clip_score'] : []), 'cluster_id', 'centroid_sim'];
  return { layout: 'caption', columns, kv: { embedding_dim: source.dim, model: 'precomputed (clip-retrieval layout)', stage: 'coreset' } };
}

function describeConfig(c: CoresetConfig): Record<string, unknown> {
  return {
    k: c.k,
    niter: c.niter,
    init: c.init,
    max_points_per_centroid: c.maxPointsPerCentroid,
    train_sample: c.trainSample ?? null,
    centroids_from: c.centroids ?? null,
    dedup: c.dedup ?? null,
    clip_band: c.clipBand ? [c.clipBand.lo, c.clipBand.hi] : null,
    centroid_band: c.centroidBand ? [c.centroidBand.lo, c.centroidBand.hi] : null,
    target: c.target ?? null,
    seed: c.seed,
    device: c.device,
  };
}

/** Bunny-style accounting: N -> dedup -> clip band -> centroid band -> sample. */
function steps(c: CoresetConfig, n: EngineResult['counts'], results: TaskResult[]): Step[] {
  const s: Step[] = [];
  const valid = n.read - n.invalid;
  s.push({ name: 'embeddings', in: n.read, out: valid });
  if (c.dedup) s.push({ name: `dedup ${c.dedup.rule} (cos ${c.dedup.rule === 'semdedup' ? '>=' : '>'} ${c.dedup.threshold}, k=${c.k})`, in: valid, out: n.dedup });
  if (c.clipBand) s.push({ name: `clip_score band ${c.clipBand.lo}-${c.clipBand.hi}%`, in: n.dedup, out: n.clipBand });
  if (c.centroidBand) s.push({ name: `centroid band ${c.centroidBand.lo}-${c.centroidBand.hi}%`, in: n.clipBand, out: n.centroidBand });
  if (c.target !== undefined) s.push({ name: `sample ${c.target}`, in: n.centroidBand, out: n.sample });
  const written = results.reduce((a, r) => a + r.shards.reduce((b, x) => b + x.rows, 0), 0);
  if (written !== n.sample) throw new Error(`coreset: ${written} rows written but the selection kept ${n.sample}`);
  return s;
}


/** Checks an argv without running (a pipeline checks every stage before the first runs). */
export function check(argv: string[]): void {
  parse(argv);
}

function parse(argv: string[]): Parsed {
  return parseFlagsOnly(argv, flags, 'coreset', 'coreset reads one dataset, --input DIR (boolean flags take no value)');
}

export async function run(argv: string[]): Promise<number> {
  const p = parse(argv);
  if (p.help) {
    process.stdout.write(help);
    return 0;
  }
  const device = str(p, 'device') ?? 'cpu';
  if (!(DEVICES as readonly string[]).includes(device)) throw new UsageError(`mmcurate coreset: unsupported --device "${device}". Should be one of: ${DEVICES.join(', ')}`);
  const seed = num(p, 'seed');
  const target = p.flags.target;
  const out = required(p, 'out', 'coreset');
  const m = await coreset({
    input: required(p, 'input', 'coreset'),
    out,
    recipe: str(p, 'recipe'),
    flags: {
      k: num(p, 'k'),
      niter: num(p, 'niter'),
      init: str(p, 'init'),
      trainSample: num(p, 'train-sample'),
      centroids: str(p, 'centroids'),
      dedupRule: str(p, 'dedup-rule'),
      dedupThreshold: num(p, 'dedup-threshold'),
      clipBand: str(p, 'clip-band'),
      centroidBand: str(p, 'centroid-band'),
      target: target === undefined ? undefined : String(target),
      seed,
      device: device as Device,
      threads: num(p, 'threads'),
      bucketMb: num(p, 'bucket-mb'),
    },
    shardRows: num(p, 'shard-rows'),
    keepWork: bool(p, 'keep-work'),
    quiet: bool(p, 'quiet'),
    command: ['mmcurate', 'coreset', ...argv],
  });
  process.stdout.write(summarize(m, out) + '\n');
  return 0;
}
