/** `mmcurate ingest`: raw captions, interleaved documents or text corpora → sharded Parquet + manifest. */
import { redact } from '../storage/location.js';
import { statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { isKind, KINDS, type Kind } from '../records.js';
import { bool, formatHelp, keyValues, list, num, parseArgs, QUIET_FLAG, required, str, type Flags, WORKERS_FLAG } from '../cli/args.js';
import { emptySources, summarize } from '../cli/summary.js';
import { runLocal } from '../run/executor.js';
import { contiguous, worldOf, type StageDef } from '../run/contract.js';
import { manySmallImages } from '../image/vips.js';
import { readManifest, type Manifest } from '../write/manifest.js';
import { expandInputs, FORMATS, type Format } from './detect.js';
import { DEFAULT_MAX_PIXELS, IMAGE_CHECK_MODES, type ImageCheckMode } from './images.js';
import { DEFAULT_PART_BYTES, splitUnits } from './split.js';
import { DEFAULT_MAX_LINE_BYTES } from './readers/lines.js';
import { FIELD_NAMES } from './map.js';
import { DEFAULT_MAX_IMAGE_BYTES } from './local-files.js';
import type { IngestSpec } from './task.js';
import type { IngestManifestSpec } from './manifest.js';
import { COMPRESSION_FLAG, type Compression } from '../write/compression.js';

/** The command's flags; the library API's IngestOptions are generated from this table (src/api/types.ts). */
export const flags = {
  kind: { type: 'string', required: true, choices: KINDS, help: `record kind: ${KINDS.join(' | ')}` },
  input: { type: 'list', help: 'files, folders or globs (name=PATH names the source); repeatable' },
  format: { type: 'string', choices: FORMATS, help: `force the input format: ${FORMATS.join(', ')}` },
  map: { type: 'list', help: 'FIELD=COLUMN overrides, e.g. caption=alt_text, image=jpg, url=URL, text=content' },
  out: { type: 'string', required: true, help: 'output folder' },
  strict: { type: 'boolean', help: 'stop at the first bad record or unreadable file (exit 1)' },
  'image-check': { type: 'string', help: 'decode (default): decode every local or embedded image with sharp; header: read its header and check its framing reaches the end marker (images decoded upstream, e.g. by img2dataset)' },
  'max-pixels': { type: 'number', integer: true, min: 1, help: `decompression-bomb limit per image (default ${DEFAULT_MAX_PIXELS})` },
  'image-root': { type: 'string', help: 'the folder local image paths must stay inside (default: each input file\'s folder), and where relative paths in Parquet image structs {bytes: null, path} resolve (default: the working directory, as HF datasets does)' },
  'allow-paths-outside': { type: 'boolean', help: 'let local image paths point anywhere (absolute paths, ../), symbolic links included' },
  'max-image-mb': { type: 'number', above: 0, help: `a local image file larger than this is rejected as image_too_large (default ${DEFAULT_MAX_IMAGE_BYTES / 2 ** 20})` },
  'allow-empty': { type: 'boolean', help: 'exit 0 even when every record of a source was rejected' },
  'csv-columns': { type: 'list', help: 'CSV/TSV files without a header row: their column names in order, e.g. caption,url for CC3M\'s TSV (every row is then data)' },
  'max-line-mb': { type: 'number', above: 0, help: `JSONL and plain text: a longer line is rejected as line_too_long, named by its number, and skipped without being held in memory (default ${DEFAULT_MAX_LINE_BYTES / 2 ** 20})` },
  'text-split': { type: 'string', help: 'plain text documents: line (default) | paragraph | file' },
  workers: WORKERS_FLAG,
  tasks: { type: 'number', integer: true, min: 1, help: 'number of tasks the input parts are spread over (default: one per part, at most 256)' },
  'part-mb': { type: 'number', min: 0, help: `cut uncompressed JSONL, CSV/TSV, one-document-per-line text and Parquet files larger than this into parts of about this many MiB, each its own task (default ${DEFAULT_PART_BYTES / 2 ** 20}; 0: never cut)` },
  'shard-rows': { type: 'number', integer: true, min: 1, help: 'rows per shard at most (default 1,000,000)' },
  'shard-mb': { type: 'number', above: 0, help: 'MiB per shard at most (default 256)' },
  'row-group-mb': { type: 'number', above: 0, help: 'uncompressed MiB per row group at most (default 32)' },
  compression: COMPRESSION_FLAG,
  quiet: QUIET_FLAG,
} as const satisfies Flags;

export const help = formatHelp(
  'mmcurate ingest --kind caption|interleaved|text --input PATH... [--format F] [--map FIELD=COLUMN] --out DIR',
  `Reads raw data, streaming, and writes sharded Parquet with a manifest; every record is kept or rejected with a reason.
Column names recognised: ${Object.entries(FIELD_NAMES).map(([k, f]) => `${k}: ${Object.entries(f).map(([n, c]) => `${n}=${c.join('|')}`).join(', ')}`).join('; ')}.`,
  flags,
);

export interface IngestOptions {
  kind: Kind;
  inputs: string[];
  out: string;
  format?: Format;
  map?: Record<string, string>;
  strict?: boolean;
  maxPixels?: number;
  imageCheck?: ImageCheckMode;
  /** The folder local image paths must stay inside, and where Parquet image structs' relative paths resolve. */
  imageRoot?: string;
  /** Local image paths may point anywhere. */
  allowPathsOutside?: boolean;
  /** Bytes per local image file at most (default DEFAULT_MAX_IMAGE_BYTES). */
  maxImageBytes?: number;
  textSplit?: 'line' | 'paragraph' | 'file';
  /** Column names for CSV/TSV inputs without a header row. */
  csvColumns?: string[];
  /** JSONL and text lines longer than this are rejected (default DEFAULT_MAX_LINE_BYTES). */
  maxLineBytes?: number;
  /** A source with nothing kept is not an error (the command's exit code). */
  allowEmpty?: boolean;
  workers?: number;
  tasks?: number;
  /** Files larger than this are cut into parts (split.ts); 0: never. */
  partBytes?: number;
  shard?: IngestSpec['shard'];
  quiet?: boolean;
  command?: string[];
}

/** The ingest stage under the contract: one ranked step over the input parts, then the manifest. */
export const stage: StageDef<IngestOptions> = {
  command: 'ingest',
  parse: options,
  out: (o) => o.out,
  steps: () => [{ name: 'ingest', global: false }, { name: 'manifest', global: true }],
  setup: () => manySmallImages(),
  async plan(o, ctx) {
    const files = await expandInputs(o.inputs, o.kind, o.format);
    const units = await splitUnits(files, { partBytes: o.partBytes ?? DEFAULT_PART_BYTES, textSplit: o.textSplit ?? 'line' });
    const world = worldOf(Math.min(o.tasks ?? units.length, 256, units.length), ctx.tasks);
    const spec: IngestSpec = {
      kind: o.kind,
      units,
      assignment: contiguous(units.map((u) => u.bytes), world),
      map: o.map ?? {},
      maxPixels: o.maxPixels ?? DEFAULT_MAX_PIXELS,
      imageCheck: o.imageCheck ?? 'decode',
      strict: !!o.strict,
      textSplit: o.textSplit ?? 'line',
      ...(o.csvColumns?.length ? { csvColumns: o.csvColumns } : {}),
      ...(o.maxLineBytes ? { maxLineBytes: o.maxLineBytes } : {}),
      imagePaths: {
        ...(o.imageRoot ? { root: path.resolve(o.imageRoot) } : {}),
        allowOutside: !!o.allowPathsOutside,
        maxBytes: o.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
        // HF datasets resolves relative struct paths against the working directory: the one this command ran in
        ...(!o.imageRoot && units.some((u) => u.format === 'parquet') ? { cwd: process.cwd() } : {}),
      },
      shard: o.shard ?? {},
    };
    const manifest: IngestManifestSpec = {
      kind: o.kind,
      command: ctx.command,
      world,
      inputs: files.map((u) => ({ source: u.source, path: redact(u.absPath), format: u.format, bytes: u.bytes, parts: units.filter((p) => p.absPath === u.absPath).length })),
    };
    return [
      { step: 'ingest', world, module: 'ingest/task.js', spec, total: units.reduce((a, u) => a + u.bytes, 0), unit: 'bytes' },
      { step: 'manifest', world: 1, module: 'ingest/manifest.js', spec: manifest, how: ['command'] },
    ];
  },
};

export async function ingest(o: IngestOptions): Promise<Manifest> {
  await runLocal(stage, o, { tasks: o.tasks, workers: o.workers, quiet: o.quiet, command: o.command ?? ['mmcurate', 'ingest'], argv: o.command?.slice(2) ?? null });
  return readManifest(o.out);
}

function csvColumns(values: string[]): string[] | undefined {
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  if (!names.length) return undefined;
  if (names.some((n) => n === '')) throw new UsageError(`mmcurate ingest: --csv-columns needs column names separated by commas, got "${values.join(',')}"`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`mmcurate ingest: --csv-columns names "${dup}" twice`);
  return names;
}

/** Checks an argv, flags and values, without running (a pipeline checks every stage before the first runs). */
export function check(argv: string[]): void {
  options(argv);
}

/** The options of a command line; every check that needs no input file is done here. */
export function options(argv: string[]): IngestOptions {
  const p = parseArgs(argv, flags, 'ingest');
  const kind = required(p, 'kind', 'ingest');
  if (!isKind(kind)) throw new UsageError(`mmcurate ingest: unsupported --kind "${kind}". Should be one of: ${KINDS.join(', ')}`);
  const inputs = [...list(p, 'input'), ...p.positional];
  if (!inputs.length) throw new UsageError('mmcurate ingest: --input is required (files, folders or globs)');
  const format = str(p, 'format');
  if (format && !(FORMATS as readonly string[]).includes(format)) throw new UsageError(`mmcurate ingest: unsupported --format "${format}". Should be one of: ${FORMATS.join(', ')}`);
  const split = str(p, 'text-split') ?? 'line';
  if (!['line', 'paragraph', 'file'].includes(split)) throw new UsageError(`mmcurate ingest: --text-split must be line, paragraph or file, got "${split}"`);
  const maxPixels = num(p, 'max-pixels');
  const mb = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 1024 * 1024));
  const imageCheck = str(p, 'image-check') ?? 'decode';
  if (!(IMAGE_CHECK_MODES as readonly string[]).includes(imageCheck)) throw new UsageError(`mmcurate ingest: --image-check must be ${IMAGE_CHECK_MODES.join(' or ')}, got "${imageCheck}"`);
  const partMb = num(p, 'part-mb');
  const imageRoot = str(p, 'image-root');
  if (imageRoot !== undefined) {
    let isDir = false;
    try {
      isDir = statSync(imageRoot).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) throw new UsageError(`mmcurate ingest: --image-root ${imageRoot}: no such folder`);
  }
  const out = required(p, 'out', 'ingest');
  const map = keyValues(list(p, 'map'), 'map');
  const fields = Object.keys(FIELD_NAMES[kind]);
  const unknown = Object.keys(map).filter((f) => !fields.includes(f));
  if (unknown.length) throw new UsageError(`mmcurate ingest: --map ${unknown[0]}=...: ${kind} records have no field "${unknown[0]}"; the fields are ${fields.join(', ')} (--map FIELD=COLUMN)`);
  return {
    kind,
    inputs,
    out,
    format: format as Format | undefined,
    map,
    strict: bool(p, 'strict'),
    maxPixels,
    imageCheck: imageCheck as ImageCheckMode,
    imageRoot,
    allowPathsOutside: bool(p, 'allow-paths-outside'),
    maxImageBytes: mb(num(p, 'max-image-mb')),
    textSplit: split as 'line',
    csvColumns: csvColumns(list(p, 'csv-columns')),
    maxLineBytes: mb(num(p, 'max-line-mb')),
    allowEmpty: bool(p, 'allow-empty'),
    workers: num(p, 'workers'),
    tasks: num(p, 'tasks'),
    partBytes: mb(partMb),
    shard: { maxShardRows: num(p, 'shard-rows'), maxShardBytes: mb(num(p, 'shard-mb')), maxRowGroupBytes: mb(num(p, 'row-group-mb')), compression: str(p, 'compression') as Compression | undefined },
    quiet: bool(p, 'quiet'),
    command: ['mmcurate', 'ingest', ...argv],
  };
}

export async function run(argv: string[]): Promise<number> {
  const p = parseArgs(argv, flags, 'ingest');
  if (p.help) {
    process.stdout.write(help);
    return 0;
  }
  const o = options(argv);
  const out = o.out;
  const m = await ingest(o);
  process.stdout.write(summarize(m, out) + '\n');
  const empty = emptySources(m, out, EMPTY_HINTS);
  if (!empty.length) return 0;
  const allow = !!o.allowEmpty;
  for (const e of empty) process.stderr.write(`${allow ? 'warning' : 'error'}: ${e}\n`);
  if (allow) return 0;
  process.stderr.write(`error: ingest exits 1 because ${empty.length === 1 ? 'a source' : `${empty.length} sources`} came out empty; --allow-empty accepts that\n`);
  return 1;
}

/** What to look at when every record of a source failed the same way. */
const EMPTY_HINTS: Record<string, string> = {
  image_missing:
    'Relative image paths resolve against the input file\'s folder; in Parquet image structs {bytes: null, path}, against the working directory (as HF datasets does) or --image-root DIR',
  image_path_outside: 'Image paths must stay inside the input file\'s folder or --image-root DIR; --allow-paths-outside lifts the rule',
  missing_caption: 'Name the caption column with --map caption=COLUMN; a CSV/TSV without a header row needs --csv-columns',
  missing_text: 'Name the text column with --map text=COLUMN',
};
