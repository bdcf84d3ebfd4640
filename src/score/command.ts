/**
 * `mmcurate score`: CLIP embeddings and scores for a dataset, with LAION's absolute threshold or DataComp's
 * top fraction as optional filters, and the clip-retrieval embedding layout on request.
 */
import { resolve } from '../storage/location.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { bool, formatHelp, list, num, parseFlagsOnly, QUIET_FLAG, required, str, type Flags, type Parsed } from '../cli/args.js';
import { runStageCommand } from '../cli/stage-command.js';
import { openDataset } from '../io/dataset.js';
import { DEVICES, type Device } from '../onnx.js';
import { isKind } from '../records.js';
import { runLocal } from '../run/executor.js';
import { contiguous, worldOf, type PlanContext, type StageDef, type StepPlan } from '../run/contract.js';
import { readManifest, type Manifest } from '../write/manifest.js';
import type { ScoreManifestSpec } from './manifest.js';
import { scoreColumns } from './rows.js';
import { closeCachedEngine, type ScoreSpec } from './task.js';
import { describeHeads, parseHead, type HeadSpec } from './heads.js';

function heads(args: string[]): HeadSpec[] | undefined {
  if (!args.length) return undefined;
  const hs = args.map(parseHead);
  const dup = hs.find((h, i) => hs.findIndex((x) => x.name === h.name) !== i);
  if (dup) throw new UsageError(`mmcurate score: --head ${dup.name}=... is given twice`);
  return hs;
}
import { COMPRESSION_FLAG, type Compression } from '../write/compression.js';

/** The command's flags; the library API's ScoreOptions are generated from this table (src/api/types.ts). */
export const flags = {
  input: { type: 'string', required: true, help: 'a dataset folder written by an earlier stage (ingest)' },
  out: { type: 'string', required: true, help: 'output folder' },
  model: { type: 'string', help: 'model folder (HF / Transformers.js CLIP or SigLIP export, or an OpenCLIP export in Immich\'s layout, see docs/score.md); default: the embedded TEST encoder' },
  'model-variant': { type: 'string', help: 'ONNX file variant: fp32 (default), fp16, quantized, int8, uint8, q4, ...' },
  device: { type: 'string', choices: DEVICES, help: 'auto (default: CUDA when its provider loads, else CPU) | cuda | cpu' },
  batch: { type: 'number', help: 'model batch size (default 64)' },
  workers: { type: 'number', help: 'image decoding threads (default: CPU count - 1)' },
  'embed-text': { type: 'boolean', help: 'also embed text documents (text datasets: adds text_embedding)' },
  'min-clip-score': { type: 'number', help: "drop rows whose clip_score is below X (LAION-2B used 0.28 with ViT-B/32)" },
  'keep-top': { type: 'number', help: "keep the top fraction F of rows by clip_score over the whole input (DataComp's baseline: 0.3)" },
  head: { type: 'list', help: 'NAME=model.onnx: an ONNX head over the image embeddings (LAION NSFW detector, aesthetic predictor) whose score goes to head_scores.NAME, for filter --where "NAME < 0.5"; repeatable (docs/score.md)' },
  'emit-npy': { type: 'boolean', help: 'also write img_emb/, text_emb/ (.npy, float16) and metadata/ parts, row-aligned (clip-retrieval layout)' },
  'max-pixels': { type: 'number', integer: true, min: 1, help: 'refuse images with more pixels than this (default 89478485, as ingest: PIL\'s decompression-bomb threshold)' },
  'shard-rows': { type: 'number', integer: true, min: 1, help: 'rows per shard at most (default 1,000,000)' },
  tasks: { type: 'number', integer: true, min: 1, help: 'tasks the input shards are spread over (default: one per shard)' },
  compression: COMPRESSION_FLAG,
  quiet: QUIET_FLAG,
} as const satisfies Flags;

export const help = formatHelp(
  'mmcurate score --input DIR [--model MODEL_DIR] [--device auto|cuda|cpu] [--batch N] [--embed-text] [--min-clip-score X | --keep-top F] [--head NAME=model.onnx]... [--emit-npy] --out DIR',
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
  heads?: HeadSpec[];
  maxPixels?: number;
  shardRows?: number;
  compression?: Compression;
  tasks?: number;
  quiet?: boolean;
  command?: string[];
}

/** Checks the options against the input and makes every step's plan. */
async function planScore(o: ScoreOptions, ctx: PlanContext): Promise<StepPlan[]> {
  checkRequest(o);
  const ds = openDataset(o.input);
  const kind = ds.manifest.layout;
  if (!isKind(kind)) throw new UsageError(`--input ${o.input}: score reads caption, interleaved or text datasets, not ${kind}`);
  if (kind === 'text' && !o.embedText) throw new UsageError(`--input ${o.input} holds text documents: nothing to score; pass --embed-text to add text embeddings`);
  if (o.emitNpy && kind === 'interleaved') throw new UsageError('mmcurate score: --emit-npy writes one embedding per row, which interleaved documents (several images each) do not have');
  const modelDir = o.model ? path.resolve(o.model) : undefined;

  if (o.heads?.length && kind !== 'caption') throw new UsageError(`mmcurate score: --head runs on one image embedding per row, which caption pairs have and ${kind} records do not`);
  const added = [...scoreColumns(kind, !!o.embedText), ...(o.heads?.length ? ['head_scores'] : [])];
  const columns = [...new Set([...(ds.manifest.columns ?? []), ...added])];
  const shards = ds.shardPaths.map((abs, i) => ({ abs, rel: ds.manifest.shards[i]!.path }));
  const world = worldOf(shards.length, ctx.tasks);
  const keepTop = o.keepTop !== undefined;
  const staging = keepTop ? path.join(path.resolve(ctx.dir), '_staging') : undefined;
  const spec: ScoreSpec = {
    phase: 'score',
    kind,
    shards,
    assignment: contiguous(ds.manifest.shards.map((s) => s.rows), world),
    columns,
    embedText: !!o.embedText,
    minClipScore: o.minClipScore,
    staging,
    emitNpy: !!o.emitNpy,
    ...(o.heads?.length ? { heads: o.heads } : {}),
    model: { dir: modelDir, variant: o.variant, device: o.device ?? 'auto', batch: o.batch ?? 64, workers: o.workers, maxPixels: o.maxPixels },
    shard: { maxShardRows: o.shardRows, ...(o.compression ? { compression: o.compression } : {}) },
  };
  const manifest: ScoreManifestSpec = {
    kind,
    command: ctx.command,
    world,
    input: resolve(o.input),
    columns,
    ...(modelDir ? { modelDir } : {}),
    ...(o.variant ? { variant: o.variant } : {}),
    ...(o.minClipScore !== undefined ? { minClipScore: o.minClipScore } : {}),
    ...(keepTop ? { keepTop: o.keepTop } : {}),
    emitNpy: !!o.emitNpy,
    ...(o.heads?.length ? { heads: describeHeads(o.heads) } : {}),
  };
  // One model per machine: tasks run one after another in this process and share it (lanes: 1).
  const how = ['model.workers'];
  const plans: StepPlan[] = [{ step: 'score', world, module: 'score/task.js', spec, how, lanes: 1, total: ds.manifest.rows, unit: 'rows' }];
  if (keepTop) {
    plans.push({ step: 'cut', world: 1, module: 'score/cut.js', spec: { world, keepTop: o.keepTop }, needs: ['score'] });
    plans.push({ step: 'filter', world, module: 'score/filter-task.js', spec, how, needs: ['score', 'cut'], lanes: 1, total: ds.manifest.rows, unit: 'rows' });
  }
  plans.push({ step: 'manifest', world: 1, module: 'score/manifest.js', spec: manifest, how: ['command'] });
  return plans;
}

/** The score stage under the contract: score, then with --keep-top the global cut and the filter, then the manifest. */
export const stage: StageDef<ScoreOptions> = {
  command: 'score',
  parse: options,
  out: (o) => o.out,
  steps: (o) => [
    { name: 'score', global: false, gpu: true },
    ...(o.keepTop !== undefined ? [{ name: 'cut', global: true }, { name: 'filter', global: false }] : []),
    { name: 'manifest', global: true },
  ],
  plan: planScore,
  setup: () => closeCachedEngine,
};

/** Run the stage; returns the manifest it wrote. */
export async function score(o: ScoreOptions): Promise<Manifest> {
  await runLocal(stage, o, { tasks: o.tasks, quiet: o.quiet, command: o.command ?? ['mmcurate', 'score'], argv: o.command?.slice(2) ?? null });
  return readManifest(o.out);
}

/** Checks an argv, flags and values, without running (a pipeline checks every stage before the first runs). */
export function check(argv: string[]): void {
  options(argv);
}

function parse(argv: string[]): Parsed {
  return parseFlagsOnly(argv, flags, 'score', 'score reads one dataset, --input DIR (boolean flags take no value)');
}

/** The options of a command line; the checks that need the input run when the stage is planned. */
export function options(argv: string[]): ScoreOptions {
  const p = parse(argv);
  const device = str(p, 'device') ?? 'auto';
  if (!(DEVICES as readonly string[]).includes(device)) throw new UsageError(`mmcurate score: unsupported --device "${device}". Should be one of: ${DEVICES.join(', ')}`);
  const batch = num(p, 'batch');
  if (batch !== undefined && !(Number.isInteger(batch) && batch > 0)) throw new UsageError(`mmcurate score: --batch must be a positive integer, got ${batch}`);
  const workers = num(p, 'workers');
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0)) throw new UsageError(`mmcurate score: --workers must be a whole number, got ${workers}`);
  return checkRequest({
    input: required(p, 'input', 'score'),
    out: required(p, 'out', 'score'),
    model: str(p, 'model'),
    variant: str(p, 'model-variant'),
    device: device as Device,
    batch,
    workers,
    embedText: bool(p, 'embed-text'),
    minClipScore: num(p, 'min-clip-score'),
    keepTop: num(p, 'keep-top'),
    emitNpy: bool(p, 'emit-npy'),
    heads: heads(list(p, 'head')),
    maxPixels: num(p, 'max-pixels'),
    shardRows: num(p, 'shard-rows'),
    compression: str(p, 'compression') as Compression | undefined,
    tasks: num(p, 'tasks'),
    quiet: bool(p, 'quiet'),
    command: ['mmcurate', 'score', ...argv],
  });
}

/** Every check of the options that needs no input: the parser and the planner (a direct call) both run it. */
function checkRequest(o: ScoreOptions): ScoreOptions {
  if (resolve(o.out) === resolve(o.input)) throw new UsageError('mmcurate score: --out must differ from --input');
  if (o.minClipScore !== undefined && o.keepTop !== undefined) throw new UsageError('mmcurate score: use --min-clip-score or --keep-top, not both');
  if (o.keepTop !== undefined && !(o.keepTop > 0 && o.keepTop <= 1)) throw new UsageError(`mmcurate score: --keep-top must be a fraction in (0, 1], got ${o.keepTop}`);
  if (o.model !== undefined && !existsSync(o.model)) throw new UsageError(`--model ${o.model}: no such folder (see docs/score.md for where to get CLIP weights)`);
  return o;
}

export function run(argv: string[]): Promise<number> {
  return runStageCommand(argv, help, (a) => parse(a).help, options, score);
}
