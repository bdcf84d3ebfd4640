/**
 * `mmcurate filter`: keeps the rows of a dataset that pass every filter asked for: --where expressions over
 * columns and metadata fields, and built-in filters (image size and shape, caption words, language, LAION's
 * unsafe and watermark probabilities). Every other row is a reject naming the filter; the manifest counts
 * each filter. The rows kept are written unchanged, in input order.
 */
import { resolve } from '../storage/location.js';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { formatHelp, list, num, parseFlagsOnly, QUIET_FLAG, required, str, type Flags, type Parsed, WORKERS_FLAG } from '../cli/args.js';
import { runStageCommand } from '../cli/stage-command.js';
import { openDataset } from '../io/dataset.js';
import { isKind } from '../records.js';
import { runLocal } from '../run/executor.js';
import { contiguous, worldOf, type PlanContext, type StageDef, type StepPlan } from '../run/contract.js';
import { readManifest, type Manifest } from '../write/manifest.js';
import { checkBuiltins, type BuiltinSpec } from './builtins.js';
import { compileWhere } from './expr.js';
import type { FilterSet } from './filters.js';
import type { FilterManifestSpec } from './manifest.js';
import type { FilterTaskSpec, OnMissing } from './task.js';
import { COMPRESSION_FLAG, type Compression } from '../write/compression.js';

/** The command's flags; the library API's FilterOptions are generated from this table (src/index.ts). */
export const flags = {
  input: { type: 'string', required: true, help: 'a dataset folder written by an earlier stage (ingest, score...)' },
  out: { type: 'string', required: true, help: 'output folder' },
  where: { type: 'list', help: 'NAME="EXPRESSION": keep rows where it is true, e.g. safe="metadata.punsafe < 0.5"; repeatable (docs/filters.md)' },
  'on-missing': { type: 'string', choices: ['reject', 'keep'], help: 'a row without a field a filter needs: reject (default, reason missing_field:FIELD) | keep (the filter passes it)' },
  'min-size': { type: 'number', integer: true, min: 1, help: 'caption pairs: the image\'s shorter side at least N pixels' },
  'max-aspect-ratio': { type: 'number', min: 1, help: 'caption pairs: longer side / shorter side at most R' },
  'caption-words': { type: 'string', help: 'MIN-MAX words in the caption (or document text), split on whitespace; MIN- for no maximum' },
  language: { type: 'string', help: 'keep texts identified as one of these ISO 639-1 codes, e.g. en or en,de (eld)' },
  'min-language-confidence': { type: 'number', min: 0, help: 'with --language: eld\'s score for the language at least X (0-1, default 0)' },
  'max-punsafe': { type: 'number', help: 'LAION\'s NSFW probability metadata.punsafe below X (LAION: 0.5)' },
  'max-pwatermark': { type: 'number', help: 'LAION\'s watermark probability metadata.pwatermark below X (LAION: 0.5)' },
  'gopher-quality': { type: 'boolean', help: 'text and interleaved: Gopher\'s quality rules, each its own filter (gopher:word_count, gopher:mean_word_length...)' },
  'gopher-repetition': { type: 'boolean', help: 'text and interleaved: Gopher\'s repetition rules with the thresholds of its Table A1 (gopher:dup_line_frac, gopher:top_2_gram...)' },
  c4: { type: 'boolean', help: 'text and interleaved: C4\'s rules (c4:lorem_ipsum, c4:curly_bracket, c4:too_few_sentences); text records keep only the lines C4 keeps' },
  'shard-rows': { type: 'number', integer: true, min: 1, help: 'rows per output shard at most (default 1,000,000)' },
  compression: COMPRESSION_FLAG,
  tasks: { type: 'number', integer: true, min: 1, help: 'tasks the input shards are spread over, each a contiguous run of rows (default: one per shard)' },
  workers: WORKERS_FLAG,
  quiet: QUIET_FLAG,
} as const satisfies Flags;

export const help = formatHelp(
  'mmcurate filter --input DIR [--where NAME="EXPR"]... [--min-size N] [--max-aspect-ratio R] [--caption-words MIN-MAX] [--language en[,de]] [--max-punsafe X] [--max-pwatermark X] [--on-missing keep|reject] --out DIR',
  `Keeps the rows that pass every filter, unchanged and in input order; every other row is rejected with the first filter
it failed (filtered:NAME) and its shard and row. Expressions (filtrex syntax) see the record's columns, metadata.KEY
(the metadata JSON), image.width/height/format for caption pairs, and text/num_images for interleaved documents:
  --where safe="metadata.punsafe < 0.5" --where aligned="clip_score >= 0.28" --where big="image.width >= 200"
A field a row lacks is counted per filter and handled by --on-missing. See docs/filters.md.`,
  flags,
);

export interface FilterOptions {
  input: string;
  out: string;
  where: string[];
  onMissing: OnMissing;
  builtins: BuiltinSpec;
  text: NonNullable<FilterSet['text']>;
  shardRows?: number;
  compression?: Compression;
  tasks?: number;
  workers?: number;
  quiet?: boolean;
  command?: string[];
}

async function planFilter(o: FilterOptions, ctx: PlanContext): Promise<StepPlan[]> {
  const ds = openDataset(o.input);
  const kind = ds.manifest.layout;
  if (!isKind(kind)) throw new UsageError(`--input ${o.input}: filter reads caption, interleaved or text datasets, not ${kind}`);
  if (resolve(o.out) === resolve(o.input)) throw new UsageError('mmcurate filter: --out must differ from --input');
  await checkBuiltins(o.builtins, kind);
  const columns = ds.manifest.columns ?? [];
  const world = worldOf(ds.shardPaths.length, ctx.tasks);
  if (Object.keys(o.text).length && kind === 'caption') throw new UsageError('mmcurate filter: --gopher-quality, --gopher-repetition and --c4 judge documents (text or interleaved records); captions are far shorter than their 50-word minimum');
  const filters: FilterSet = { where: o.where, builtins: o.builtins, ...(Object.keys(o.text).length ? { text: o.text } : {}) };
  const spec: FilterTaskSpec = {
    kind,
    shards: ds.shardPaths.map((abs, i) => ({ abs, rel: ds.manifest.shards[i]!.path })),
    assignment: contiguous(ds.manifest.shards.map((s) => s.rows), world),
    columns,
    filters,
    onMissing: o.onMissing,
    shard: { maxShardRows: o.shardRows, ...(o.compression ? { compression: o.compression } : {}) },
  };
  const manifest: FilterManifestSpec = { kind, command: ctx.command, world, input: path.resolve(o.input), columns, onMissing: o.onMissing };
  return [
    { step: 'filter', world, module: 'filter/task.js', spec, total: ds.manifest.rows, unit: 'rows' },
    { step: 'manifest', world: 1, module: 'filter/manifest.js', spec: manifest, how: ['command'] },
  ];
}

/** The filter stage under the contract: filter ×N over contiguous runs of input shards, then the manifest. */
export const stage: StageDef<FilterOptions> = {
  command: 'filter',
  parse: options,
  out: (o) => o.out,
  steps: () => [{ name: 'filter', global: false }, { name: 'manifest', global: true }],
  plan: planFilter,
};

export async function filter(o: FilterOptions): Promise<Manifest> {
  await runLocal(stage, o, { tasks: o.tasks, workers: o.workers, quiet: o.quiet, command: o.command ?? ['mmcurate', 'filter'], argv: o.command?.slice(2) ?? null });
  return readManifest(o.out);
}

/** Checks an argv without running (a pipeline checks every stage before the first runs). */
export function check(argv: string[]): void {
  options(argv);
}

function parse(argv: string[]): Parsed {
  return parseFlagsOnly(argv, flags, 'filter', 'filter reads one dataset, --input DIR; quote each --where NAME="EXPRESSION" as one argument');
}

function probability(p: Parsed, name: string): number | undefined {
  const v = num(p, name);
  if (v !== undefined && !(v > 0 && v <= 1)) throw new UsageError(`mmcurate filter: --${name} is a probability in (0, 1], got ${v}`);
  return v;
}

function wordRange(v: string | undefined): { min: number; max?: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d+)\s*-\s*(\d*)\s*$/.exec(v);
  const min = m ? Number(m[1]) : NaN;
  const max = m && m[2] ? Number(m[2]) : undefined;
  if (!m || (max !== undefined && min > max)) throw new UsageError(`mmcurate filter: --caption-words expects MIN-MAX whole numbers with MIN <= MAX (e.g. 3-77, or 3- for no maximum), got "${v}"`);
  return max === undefined ? { min } : { min, max };
}

function languages(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const codes = v.split(',').map((c) => c.trim().toLowerCase());
  const bad = codes.find((c) => !/^[a-z]{2}$/.test(c));
  if (bad !== undefined) throw new UsageError(`mmcurate filter: --language takes ISO 639-1 codes separated by commas (en, de, fr...), got "${v}"`);
  return codes;
}

/** The options of a command line: every expression is compiled here, so a typo stops the run before any work. */
export function options(argv: string[]): FilterOptions {
  const p = parse(argv);
  const where = list(p, 'where');
  const names = new Set<string>();
  for (const w of where) {
    const f = compileWhere(w);
    if (names.has(f.name)) throw new UsageError(`mmcurate filter: --where ${f.name}=... is given twice; each filter needs its own name (it names the reject reason)`);
    names.add(f.name);
  }
  const onMissing = str(p, 'on-missing') ?? 'reject';
  if (onMissing !== 'keep' && onMissing !== 'reject') throw new UsageError(`mmcurate filter: --on-missing must be keep or reject, got "${onMissing}"`);
  const codes = languages(str(p, 'language'));
  const minConf = num(p, 'min-language-confidence');
  if (minConf !== undefined && !codes) throw new UsageError('mmcurate filter: --min-language-confidence needs --language');
  const builtins: BuiltinSpec = {
    ...(num(p, 'min-size') !== undefined ? { minSize: num(p, 'min-size') } : {}),
    ...(num(p, 'max-aspect-ratio') !== undefined ? { maxAspectRatio: num(p, 'max-aspect-ratio') } : {}),
    ...(str(p, 'caption-words') !== undefined ? { captionWords: wordRange(str(p, 'caption-words')) } : {}),
    ...(probability(p, 'max-punsafe') !== undefined ? { maxPunsafe: num(p, 'max-punsafe') } : {}),
    ...(probability(p, 'max-pwatermark') !== undefined ? { maxPwatermark: num(p, 'max-pwatermark') } : {}),
    ...(codes ? { language: { codes, minConfidence: minConf ?? 0 } } : {}),
  };
  const input = required(p, 'input', 'filter');
  const out = required(p, 'out', 'filter');
  const text = {
    ...(p.flags['gopher-quality'] === true ? { gopherQuality: true } : {}),
    ...(p.flags['gopher-repetition'] === true ? { gopherRepetition: true } : {}),
    ...(p.flags.c4 === true ? { c4: true } : {}),
  };
  if (!where.length && !Object.keys(builtins).length && !Object.keys(text).length) throw new UsageError('mmcurate filter: no filter given; add --where NAME="EXPR" or a built-in filter (see mmcurate filter --help)');
  return {
    input,
    out,
    where,
    onMissing,
    builtins,
    text,
    shardRows: num(p, 'shard-rows'),
    compression: str(p, 'compression') as Compression | undefined,
    tasks: num(p, 'tasks'),
    workers: num(p, 'workers'),
    quiet: p.flags.quiet === true,
    command: ['mmcurate', 'filter', ...argv],
  };
}

export function run(argv: string[]): Promise<number> {
  return runStageCommand(argv, help, (a) => parse(a).help, options, filter);
}
