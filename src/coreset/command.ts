/**
 * `mmcurate coreset`: compress a scored set into a coreset the way Bunny built its LAION-2M (k-means
 * on CLIP image embeddings, in-cluster deduplication, a clip_score band, a centroid band, a seeded
 * sample) or deduplicate it the SemDeDup way. Recipes give the published values; flags override.
 */
import { resolve } from '../storage/location.js';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { bool, formatHelp, num, parseFlagsOnly, QUIET_FLAG, required, str, type Flags, type Parsed } from '../cli/args.js';
import { runStageCommand } from '../cli/stage-command.js';
import { openDataset } from '../io/dataset.js';
import { openParquet } from '../io/parquet.js';
import { DEVICES, type Device } from '../onnx.js';
import { loadRecipe } from '../recipes/load.js';
import { runLocal } from '../run/executor.js';
import { worldOf, type PlanContext, type StageDef, type StepPlan } from '../run/contract.js';
import { readManifest, type Manifest } from '../write/manifest.js';
import type { CoresetManifestSpec } from './manifest.js';
import type { CoresetConfig } from './config.js';
import { planEngine } from './engine.js';
import type { CoresetTaskSpec } from './layout.js';
import { resolveConfig, type CoresetFlags, type CoresetSection } from './recipe.js';
import { describeInput, type SourceSpec } from './source.js';
import type { WriteSettings } from './write.js';
import { COMPRESSION_FLAG, type Compression } from '../write/compression.js';

/** The command's flags; the library API's CoresetOptions are generated from this table (src/api/types.ts). */
export const flags = {
  input: { type: 'string', required: true, help: 'a `mmcurate score` output, or a clip-retrieval/LAION folder (img_emb/*.npy, text_emb/*.npy, metadata/*.parquet)' },
  out: { type: 'string', required: true, help: 'output folder' },
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
  device: { type: 'string', choices: DEVICES, help: 'cpu (default) | cuda | auto: where the similarity products run' },
  threads: { type: 'number', integer: true, min: 1, help: 'onnxruntime threads (default: all cores)' },
  'bucket-mb': { type: 'number', above: 0, help: 'embeddings per dedup bucket in memory, MiB (default 256)' },
  'shard-rows': { type: 'number', integer: true, min: 1, help: 'rows per output shard at most (default 1,000,000)' },
  tasks: { type: 'number', integer: true, min: 1, help: 'the world of every parallel step (assign, dedup, write; default: one per input part or bucket)' },
  'keep-work': { type: 'boolean', help: 'keep OUT/_work (spilled buckets, row results) after a successful run' },
  compression: COMPRESSION_FLAG,
  quiet: QUIET_FLAG,
} as const satisfies Flags;

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
  compression?: Compression;
  keepWork?: boolean;
  tasks?: number;
  quiet?: boolean;
  command?: string[];
}

/** Plans the coreset's steps: the engine's four, then write and the manifest. */
async function planCoreset(o: CoresetOptions, ctx: PlanContext): Promise<StepPlan[]> {
  const { cfg, recipeInfo } = coresetRequest(o);
  const source = await describeInput(o.input);
  const settings = await outputSettings(source);
  const { plans, spec } = await planEngine(source, cfg, path.resolve(ctx.dir), ctx.tasks, o.quiet);
  const write: CoresetTaskSpec = { ...spec, step: 'write', write: { ...settings, maxShardRows: o.shardRows, ...(o.compression ? { compression: o.compression } : {}) } };
  const manifest: CoresetManifestSpec = {
    command: ctx.command,
    input: resolve(o.input),
    recipe: recipeInfo,
    coreset: describeConfig(cfg),
    keepWork: !!o.keepWork,
    spec: write,
    worlds: {},
  };
  const all: StepPlan[] = [
    ...plans,
    { step: 'write', world: worldOf(source.parts.length, ctx.tasks), module: 'coreset/tasks.js', spec: write, how: ['cfg.threads'], needs: ['bands', 'dedup', 'assign'], lanes: 1, total: source.total, unit: 'rows' },
  ];
  manifest.worlds = Object.fromEntries(all.map((p) => [p.step, p.world]));
  all.push({ step: 'manifest', world: 1, module: 'coreset/manifest.js', spec: manifest, how: ['command', 'keepWork', 'spec.cfg.threads'] });
  return all;
}

/** The coreset stage under the contract. */
export const stage: StageDef<CoresetOptions> = {
  command: 'coreset',
  parse: options,
  out: (o) => o.out,
  steps: () => [
    { name: 'train', global: true, gpu: true },
    { name: 'assign', global: false, gpu: true },
    { name: 'dedup', global: false, gpu: true },
    { name: 'bands', global: true },
    { name: 'write', global: false },
    { name: 'manifest', global: true },
  ],
  plan: planCoreset,
};

/** Run the stage; returns the manifest it wrote. */
export async function coreset(o: CoresetOptions): Promise<Manifest> {
  await runLocal(stage, o, { tasks: o.tasks, quiet: o.quiet, command: o.command ?? ['mmcurate', 'coreset'], argv: o.command?.slice(2) ?? null });
  return readManifest(o.out);
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

export function describeConfig(c: CoresetConfig): Record<string, unknown> {
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

/** The recipe and the flags resolved into the configuration: every check that needs no input. */
function coresetRequest(o: CoresetOptions): { cfg: CoresetConfig; recipeInfo: Record<string, unknown> | null } {
  if (resolve(o.out) === resolve(o.input)) throw new UsageError('mmcurate coreset: --out must differ from --input');
  let section: CoresetSection | undefined;
  let recipeInfo: Record<string, unknown> | null = null;
  if (o.recipe) {
    const r = loadRecipe(o.recipe);
    if (!r.coreset) throw new UsageError(`--recipe ${o.recipe}: ${r.file} has no "coreset" section; use a coreset recipe (bunny-laion-2m, semdedup)`);
    section = r.coreset as CoresetSection;
    recipeInfo = { name: r.name, file: r.file, citation: r.citation };
  }
  return { cfg: resolveConfig(section, o.flags, o.recipe ?? 'flags'), recipeInfo };
}

/** Checks an argv, flags and values, without reading any input (a pipeline checks every stage before the first runs). */
export function check(argv: string[]): void {
  coresetRequest(options(argv));
}

function parse(argv: string[]): Parsed {
  return parseFlagsOnly(argv, flags, 'coreset', 'coreset reads one dataset, --input DIR (boolean flags take no value)');
}

/** The options of a command line; the checks that need the input run when the stage is planned. */
export function options(argv: string[]): CoresetOptions {
  const p = parse(argv);
  const device = str(p, 'device') ?? 'cpu';
  if (!(DEVICES as readonly string[]).includes(device)) throw new UsageError(`mmcurate coreset: unsupported --device "${device}". Should be one of: ${DEVICES.join(', ')}`);
  const target = p.flags.target;
  return {
    input: required(p, 'input', 'coreset'),
    out: required(p, 'out', 'coreset'),
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
      seed: num(p, 'seed'),
      device: device as Device,
      threads: num(p, 'threads'),
      bucketMb: num(p, 'bucket-mb'),
    },
    shardRows: num(p, 'shard-rows'),
    compression: str(p, 'compression') as Compression | undefined,
    keepWork: bool(p, 'keep-work'),
    tasks: num(p, 'tasks'),
    quiet: bool(p, 'quiet'),
    command: ['mmcurate', 'coreset', ...argv],
  };
}

export function run(argv: string[]): Promise<number> {
  return runStageCommand(argv, help, (a) => parse(a).help, options, coreset);
}
