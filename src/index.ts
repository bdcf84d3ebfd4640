/**
 * mmcurate as a library: every stage of the CLI as a typed function. Each takes the same options as its
 * command, as an object (`--shard-rows 1000` is `{ shardRows: 1000 }`), checks them exactly as the command
 * does (the CLI is a thin layer over these functions), and returns the manifest the stage wrote. A bad option
 * throws before anything is read or written; the error has `exitCode: 2`, as the command would exit.
 *
 * @example
 * ```ts
 * import { ingest, score } from 'mmcurate';
 * const captions = await ingest({ kind: 'caption', input: ['coco=data/coco.jsonl'], out: 'out/captions' });
 * const scored = await score({ input: 'out/captions', out: 'out/scored', minClipScore: 0.28 });
 * console.log(`${scored.rows} of ${captions.rows} pairs kept`);
 * ```
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { flags as auditFlags } from './audit/command.js';
import type { flags as coresetFlags } from './coreset/command.js';
import type { flags as ingestFlags } from './ingest/command.js';
import type { flags as mixFlags } from './mix/command.js';
import type { flags as runFlags } from './pipeline/command.js';
import type { flags as scoreFlags } from './score/command.js';
import type { flags as filterFlags } from './filter/command.js';
import type { flags as dedupFlags } from './dedup/command.js';
import type { flags as downloadFlags } from './download/command.js';
import type { flags as exportFlags } from './export/command.js';
import type { flags as reportFlags, ReportJson } from './report/command.js';
import type { AuditReport } from './audit/report.js';
import { readManifest, type Manifest } from './write/manifest.js';
import { toArgv, type FlagOptions } from './api/options.js';
import { runStage } from './api/stages.js';

export type { Manifest, Step } from './write/manifest.js';
export type { AuditReport } from './audit/report.js';
export type { ReportJson } from './report/command.js';
export type { Kind } from './records.js';
export type { Device } from './onnx.js';
export { UsageError } from './errors.js';
export { VERSION } from './version.js';
export { runStage } from './api/stages.js';
export type { FlagOptions } from './api/options.js';

/** `mmcurate ingest`'s flags as options (see `mmcurate ingest --help`). */
export type IngestOptions = FlagOptions<typeof ingestFlags>;
/** `mmcurate score`'s flags as options (see `mmcurate score --help`). */
export type ScoreOptions = FlagOptions<typeof scoreFlags>;
/** `mmcurate coreset`'s flags as options (see `mmcurate coreset --help`). */
export type CoresetOptions = FlagOptions<typeof coresetFlags>;
/** `mmcurate mix`'s flags as options (see `mmcurate mix --help`). */
export type MixOptions = FlagOptions<typeof mixFlags>;
/** `mmcurate filter`'s flags as options (see `mmcurate filter --help`). */
export type FilterOptions = FlagOptions<typeof filterFlags>;
/** `mmcurate dedup`'s flags as options (see `mmcurate dedup --help`). */
export type DedupOptions = FlagOptions<typeof dedupFlags>;
/** `mmcurate download`'s flags as options (see `mmcurate download --help`). */
export type DownloadOptions = FlagOptions<typeof downloadFlags>;
/** `mmcurate export`'s flags as options (see `mmcurate export --help`). */
export type ExportOptions = FlagOptions<typeof exportFlags>;
/** `mmcurate report`'s flags as options, less `json` (the figures are returned; `out` also writes the page). */
export type ReportOptions = Omit<FlagOptions<typeof reportFlags>, 'json'>;
/** `mmcurate audit`'s flags as options, less `json` (the report is returned). */
export type AuditOptions = Omit<FlagOptions<typeof auditFlags>, 'json'>;
/** `mmcurate run`'s flags as options, less `executor` (the library runs pipelines on this machine). */
export type RunOptions = Omit<FlagOptions<typeof runFlags>, 'executor'>;

/**
 * Reads raw captions, interleaved documents or text corpora and writes sharded Parquet; every record is kept
 * or rejected with a reason.
 *
 * @example
 * ```ts
 * const m = await ingest({ kind: 'caption', input: ['coco=data/coco.jsonl', 'laion-parquet/'], out: 'out/captions', shardRows: 500_000 });
 * console.log(m.rows, m.rejected, m.sources);
 * ```
 */
export function ingest(options: IngestOptions): Promise<Manifest> {
  return runStage('ingest', options);
}

/**
 * CLIP image/text embeddings and clip_score with onnxruntime (CUDA or CPU), with LAION's threshold or
 * DataComp's top fraction as optional filters.
 *
 * @example
 * ```ts
 * const m = await score({ input: 'out/captions', model: 'models/clip-vit-base-patch32', device: 'cuda', keepTop: 0.3, out: 'out/scored' });
 * ```
 */
export function score(options: ScoreOptions): Promise<Manifest> {
  return runStage('score', options);
}

/**
 * Bunny-style coresets and SemDeDup: spherical k-means, in-cluster dedup, score and centroid bands, a seeded sample.
 *
 * @example
 * ```ts
 * const m = await coreset({ input: 'out/scored', recipe: 'bunny-laion-2m', k: 1000, target: '100000', out: 'out/coreset' });
 * console.log(m.steps.map((s) => `${s.name}: ${s.out}`));
 * ```
 */
export function coreset(options: CoresetOptions): Promise<Manifest> {
  return runStage('coreset', options);
}

/**
 * Mixes curated datasets at chosen ratios (by samples or tokens), seeded; the same inputs and seed give
 * byte-identical shards.
 *
 * @example
 * ```ts
 * const m = await mix({ input: ['caption=out/coreset', 'interleaved=out/obelics', 'text=out/web'], recipe: 'mm1-pretrain', out: 'out/mix' });
 * ```
 */
export function mix(options: MixOptions): Promise<Manifest> {
  return runStage('mix', options);
}

/**
 * Keeps the rows that pass every filter asked for (`where` expressions, built-in size, aspect, words, language,
 * LAION punsafe/pwatermark, Gopher and C4 text rules), unchanged and in input order; every other row is a
 * reject naming the filter it failed.
 *
 * @example
 * ```ts
 * const m = await filter({ input: 'out/scored', where: ['aligned=clip_score >= 0.28'], minSize: 200, maxPunsafe: 0.5, out: 'out/filtered' });
 * console.log(m.rejected_by_reason);
 * ```
 */
export function filter(options: FilterOptions): Promise<Manifest> {
  return runStage('filter', options);
}

/**
 * Exact (sha256 of a normalised key) or near-duplicate (MinHash LSH) removal across one or more datasets of one
 * layout, keeping the first occurrence (inputs as given, then shard, then row).
 *
 * @example
 * ```ts
 * const exact = await dedup({ input: ['out/laion', 'out/coyo'], exact: 'image+caption', out: 'out/dedup-exact' });
 * const near = await dedup({ input: 'out/web', near: 'text', threshold: 0.8, out: 'out/dedup-near' });
 * ```
 */
export function dedup(options: DedupOptions): Promise<Manifest> {
  return runStage('dedup', options);
}

/**
 * Fetches the image of every URL row of a caption dataset, as img2dataset does (resized, checked, re-encoded);
 * refuses private and loopback addresses unless allowed. Every URL is kept or rejected with a reason.
 *
 * @example
 * ```ts
 * const m = await download({ input: 'out/laion-urls', imageSize: 256, resizeMode: 'border', encodeFormat: 'jpg', out: 'out/laion-images' });
 * console.log(`${m.rows} of ${m.read} URLs`);
 * ```
 */
export function download(options: DownloadOptions): Promise<Manifest> {
  return runStage('download', options);
}

/**
 * Writes a finished dataset as WebDataset tars (img2dataset's layout) or LLaVA's conversation JSON with an
 * image folder. (`export` is a keyword, hence the name.)
 *
 * @example
 * ```ts
 * const m = await exportDataset({ input: 'out/mix', format: 'webdataset', samplesPerShard: 10_000, out: 'out/wds' });
 * ```
 */
export function exportDataset(options: ExportOptions): Promise<Manifest> {
  return runStage('export', options);
}

/**
 * The figures of a dataset folder or a run's output (funnel, rejects, mixture, scores, clusters, samples), as
 * `mmcurate report --json` prints them; with `out`, also writes the self-contained HTML page there.
 *
 * @example
 * ```ts
 * const figures = await report('out/demo', { out: 'out/demo/report.html', samples: 12, quiet: true });
 * console.log(figures.funnel);
 * ```
 */
export async function report(dir: string, options: ReportOptions = {}): Promise<ReportJson> {
  const m = await import('./report/command.js');
  return m.report(m.options(toArgv('report', { ...options, json: true }, m.flags, [dir])));
}

/**
 * Audits a written dataset from its shards: counts, realized ratios against the recipe, duplicates, scores,
 * and every shard against the manifest. `report.ok` is false when a ratio or the manifest check failed.
 *
 * @example
 * ```ts
 * const report = await audit('out/mix', { recipe: 'mm1-pretrain', tolerance: 1 });
 * if (!report.ok) process.exitCode = 1;
 * ```
 */
export async function audit(dir: string, options: AuditOptions = {}): Promise<AuditReport> {
  const m = await import('./audit/command.js');
  return m.audit(m.options(toArgv('audit', options, m.flags, [dir])));
}

/**
 * Runs a pipeline file's stages in order on this machine (every stage's options are checked before the first
 * runs; finished tasks are skipped on a re-run) and returns the manifest of every stage that writes one, by
 * stage name. Throws when a stage fails, an audit included.
 *
 * @example
 * ```ts
 * const manifests = await run('pipelines/demo.json', { out: 'out/demo' });
 * console.log(manifests.mixture?.rows);
 * ```
 */
export async function run(pipeline: string, options: RunOptions): Promise<Record<string, Manifest>> {
  const cmd = await import('./pipeline/command.js');
  const { loadPipeline } = await import('./pipeline/load.js');
  const { parseArgs, required } = await import('./cli/args.js');
  const p = parseArgs(toArgv('run', options, cmd.flags), cmd.flags, 'run');
  const out = required(p, 'out', 'run');
  const code = await cmd.runPipeline(pipeline, out, p.flags.from as string | undefined, p.flags.tasks as number | undefined);
  if (code !== 0) throw Object.assign(new Error(`mmcurate run ${pipeline}: a stage exited with code ${code} (its messages are above)`), { exitCode: code });
  const manifests: Record<string, Manifest> = {};
  for (const s of loadPipeline(pipeline).stages) {
    if (existsSync(path.join(out, s.name, 'manifest.json'))) manifests[s.name] = readManifest(path.join(out, s.name));
  }
  return manifests;
}
