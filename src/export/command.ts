/**
 * `mmcurate export DIR --format webdataset|llava --out DIR`: a finished dataset (any stage's output) in the
 * formats trainers read. WebDataset tars in img2dataset's layout (open_clip, Megatron-Energon, NeMo), or
 * LLaVA's conversation JSON with an image folder. Under the stage contract: export ×N (contiguous runs of
 * output shards) → manifest. See docs/export.md.
 */
import path from 'node:path';
import { UsageError } from '../errors.js';
import { bool, formatHelp, list, num, parseArgs, QUIET_FLAG, str, type Flags, WORKERS_FLAG } from '../cli/args.js';
import { runStageCommand } from '../cli/stage-command.js';
import { contiguous, worldOf, type StageDef } from '../run/contract.js';
import { runLocal } from '../run/executor.js';
import { openDataset } from '../io/dataset.js';
import { resolve } from '../storage/location.js';
import { readManifest, type Manifest } from '../write/manifest.js';
import { BRIEF_PROMPTS } from './sample.js';
import type { ExportFormat, ExportSpec } from './task.js';
import type { ExportManifestSpec } from './manifest.js';

export const FORMATS: readonly ExportFormat[] = ['webdataset', 'llava'];
/** img2dataset's default number_sample_per_shard. */
export const DEFAULT_SAMPLES_PER_SHARD = 10_000;

/**
 * The command's flags; the library API's ExportOptions are generated from this table (src/index.ts). `input` is
 * required there (the command line may give it as the first argument instead).
 */
export const flags = {
  input: { type: 'string', required: true, help: 'the dataset folder to export (or give it as the first argument): any stage\'s --out' },
  format: { type: 'string', required: true, choices: FORMATS, help: 'webdataset (tars in img2dataset\'s layout; documents as Megatron-Energon interleaved samples) | llava (llava.json + images/)' },
  out: { type: 'string', required: true, help: 'output folder' },
  'samples-per-shard': { type: 'number', integer: true, min: 1, help: `input rows per output shard (a tar, or a folder of images for llava); default ${DEFAULT_SAMPLES_PER_SHARD.toLocaleString('en-US')}` },
  'caption-prompt': { type: 'list', help: 'llava: the instruction(s) a caption row is asked with, one per sample, seeded by its id (default: LLaVA\'s 11 brief-description prompts)' },
  tasks: { type: 'number', integer: true, min: 1, help: 'export tasks (default: one per output shard, at most 256); the same bytes for any count' },
  workers: WORKERS_FLAG,
  quiet: QUIET_FLAG,
} as const satisfies Flags;

export const help = formatHelp(
  'mmcurate export DIR --format webdataset|llava --out DIR [--samples-per-shard N] [--tasks N]',
  'Writes a finished dataset as WebDataset tars (KEY.jpg, KEY.txt, KEY.json; 00000.tar, 00000_stats.json, stats.json)\n' +
    'or as LLaVA\'s conversation JSON (llava.json) with an images/ folder. Rows that cannot be exported (no image\n' +
    'bytes, an interleaved document for LLaVA...) are rejected with a reason; read = exported + rejected. See docs/export.md.',
  flags,
);

export interface ExportOptions {
  input: string;
  format: ExportFormat;
  out: string;
  samplesPerShard?: number;
  captionPrompts?: string[];
  tasks?: number;
  workers?: number;
  quiet?: boolean;
  command?: string[];
}

export function options(argv: string[]): ExportOptions {
  const p = parseArgs(argv, flags, 'export');
  const inputs = [...(str(p, 'input') ? [str(p, 'input')!] : []), ...p.positional];
  if (inputs.length !== 1) throw new UsageError(`mmcurate export: give one dataset folder (mmcurate export DIR --format F --out DIR), got ${inputs.length ? inputs.join(', ') : 'none'}`);
  const format = str(p, 'format');
  if (!format) throw new UsageError(`mmcurate export: --format is required: ${FORMATS.join(' or ')}`);
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`mmcurate export: unsupported --format "${format}". Should be one of: ${FORMATS.join(', ')}`);
  const out = str(p, 'out');
  if (!out) throw new UsageError('mmcurate export: --out is required (the folder the tars or llava.json go to)');
  if (resolve(out) === resolve(inputs[0]!)) throw new UsageError(`mmcurate export: --out ${out} is the input folder; give another folder`);
  const prompts = list(p, 'caption-prompt');
  if (prompts.length && format !== 'llava') throw new UsageError('mmcurate export: --caption-prompt is for --format llava');
  if (prompts.some((x) => !x.trim())) throw new UsageError('mmcurate export: --caption-prompt must not be blank');
  return {
    input: resolve(inputs[0]!),
    format: format as ExportFormat,
    out: resolve(out),
    samplesPerShard: num(p, 'samples-per-shard'),
    ...(prompts.length ? { captionPrompts: prompts } : {}),
    tasks: num(p, 'tasks'),
    workers: num(p, 'workers'),
    quiet: bool(p, 'quiet'),
    command: ['mmcurate', 'export', ...argv],
  };
}

/** Checks an argv without running (a pipeline checks every stage before the first runs). */
export function check(argv: string[]): void {
  options(argv);
}

export const stage: StageDef<ExportOptions> = {
  command: 'export',
  parse: options,
  out: (o) => o.out,
  steps: () => [{ name: 'export', global: false }, { name: 'manifest', global: true }],
  async plan(o, ctx) {
    const ds = openDataset(o.input, 'export');
    if (ds.manifest.stage === 'export') throw new UsageError(`mmcurate export: ${o.input} is itself an export (${String((ds.manifest.export as { format?: string } | undefined)?.format)}); export the dataset it was made from`);
    const shards = ds.manifest.shards.map((s, i) => ({ path: ds.shardPaths[i]!, rel: s.path, rows: s.rows }));
    const total = shards.reduce((a, s) => a + s.rows, 0);
    const spp = o.samplesPerShard ?? DEFAULT_SAMPLES_PER_SHARD;
    const outShards = Math.max(1, Math.ceil(total / spp));
    const world = worldOf(Math.min(outShards, 256), ctx.tasks);
    // ctx.dir: where tasks write (a local work folder when --out is a bucket: storage/outdir.ts)
    const work = path.join(ctx.dir, '_work', 'export');
    const spec: ExportSpec = {
      format: o.format,
      layout: ds.manifest.layout,
      shards,
      total,
      samplesPerShard: spp,
      shardDigits: Math.max(5, String(outShards - 1).length),
      keyDigits: Math.ceil(Math.log10(spp)),
      assignment: contiguous(Array.from({ length: outShards }, (_, s) => Math.min(spp, total - s * spp)), world),
      captionPrompts: o.captionPrompts ?? [...BRIEF_PROMPTS],
      work,
    };
    const manifest: ExportManifestSpec = { format: o.format, layout: ds.manifest.layout, input: o.input, world, outShards, samplesPerShard: spp, shardDigits: spec.shardDigits, work, command: ctx.command };
    return [
      { step: 'export', world, module: 'export/task.js', spec, total, unit: 'rows' },
      { step: 'manifest', world: 1, module: 'export/manifest.js', spec: manifest, how: ['command'], needs: o.format === 'llava' ? ['export'] : [] },
    ];
  },
};

export async function exportDataset(o: ExportOptions): Promise<Manifest> {
  await runLocal(stage, o, { tasks: o.tasks, workers: o.workers, quiet: o.quiet, command: o.command ?? ['mmcurate', 'export'], argv: o.command?.slice(2) ?? null });
  return readManifest(o.out);
}

export async function run(argv: string[]): Promise<number> {
  return runStageCommand(argv, help, (a) => parseArgs(a, flags, 'export').help, options, exportDataset);
}
