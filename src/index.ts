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
import type { AuditReport } from './audit/report.js';
import { readManifest, type Manifest } from './write/manifest.js';
import { toArgv, type FlagOptions } from './api/options.js';
import { runStage } from './api/stages.js';

export type { Manifest, Step } from './write/manifest.js';
export type { AuditReport } from './audit/report.js';
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
