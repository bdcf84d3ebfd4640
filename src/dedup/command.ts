/**
 * `mmcurate dedup`: exact or near-duplicate removal across one or more datasets, keeping the first occurrence
 * in a fixed global order (input order, shard, row). Exact: sha256 of a normalised key, shuffled by hash
 * bucket. Near: MinHash LSH over word n-grams, verified pairs, connected components. See docs/dedup.md.
 */
import { UsageError } from '../errors.js';
import { bool, formatHelp, list, num, parseFlagsOnly, QUIET_FLAG, str, type Flags, type Parsed } from '../cli/args.js';
import { runStageCommand } from '../cli/stage-command.js';
import { openDataset } from '../io/dataset.js';
import { openParquet } from '../io/parquet.js';
import { resolve } from '../storage/location.js';
import { runLocal } from '../run/executor.js';
import { worldOf, type PlanContext, type StageDef, type StepDecl, type StepPlan } from '../run/contract.js';
import { readManifest, type Manifest } from '../write/manifest.js';
import type { DedupManifestSpec } from './manifest.js';
import type { DedupPart, DedupSpec, NearParams } from './layout.js';
import { paths } from './layout.js';
import { EXACT_MODES, type DedupLayout, type ExactMode } from './normalize.js';
import { COMPRESSION_FLAG, type Compression } from '../write/compression.js';

const NEAR_TEXTS = ['text', 'caption', 'interleaved'] as const;
const VERIFY = ['exact', 'signature', 'none'] as const;

/** The command's flags; the library API's DedupOptions are generated from this table (src/index.ts). */
export const flags = {
  input: { type: 'list', required: true, help: 'mmcurate datasets of one layout (caption, interleaved or text); repeatable; earlier inputs win ties' },
  exact: { type: 'string', choices: EXACT_MODES, help: 'exact duplicates by: image (bytes) | caption | text | url | image+caption' },
  near: { type: 'string', choices: NEAR_TEXTS, help: 'near duplicates of: text (any layout) | caption | interleaved (the documents\' texts), by MinHash LSH' },
  out: { type: 'string', required: true, help: 'output folder' },
  ngram: { type: 'number', integer: true, min: 1, help: 'near: words per shingle (default 5)' },
  bands: { type: 'number', integer: true, min: 1, help: 'near: LSH bands (default 14, FineWeb)' },
  rows: { type: 'number', integer: true, min: 1, help: 'near: signature values per band (default 8, FineWeb)' },
  threshold: { type: 'number', help: 'near: a candidate pair is a duplicate at Jaccard >= this (default 0.8)' },
  verify: { type: 'string', choices: VERIFY, help: 'near: exact (Jaccard of the shingle sets, default) | signature (estimated from the signatures) | none (every band match, as FineWeb)' },
  seed: { type: 'number', integer: true, help: 'near: seed of the hash family (default 1)' },
  buckets: { type: 'number', integer: true, min: 1, help: 'hash buckets of the shuffle (default: one per 2M rows, exact, or per 4M band keys, near)' },
  'shard-rows': { type: 'number', integer: true, min: 1, help: 'rows per output shard at most (default 1,000,000)' },
  compression: COMPRESSION_FLAG,
  tasks: { type: 'number', integer: true, min: 1, help: 'the world of every parallel step (default: one per input shard or bucket)' },
  'keep-work': { type: 'boolean', help: 'keep OUT/_work (spills, signatures, pairs) after a successful run' },
  quiet: QUIET_FLAG,
} as const satisfies Flags;

export const help = formatHelp(
  'mmcurate dedup --input DIR [--input DIR...] (--exact image|caption|text|url|image+caption | --near text|caption|interleaved [--threshold 0.8] [--bands 14 --rows 8] [--ngram 5]) --out DIR',
  `Removes duplicates across the inputs, keeping the first occurrence in a fixed order (inputs as given, then
shard, then row). --exact hashes a normalised key (text: NFC, lower case, white space collapsed; image: the encoded
bytes; url: the parsed URL without its fragment) with sha256. --near finds near-duplicate texts with MinHash LSH
over word n-grams (FineWeb's 14 bands x 8 rows), verifies candidate pairs by Jaccard, and keeps the first row of each
connected component. Every dropped row is in rejects (duplicate / near_duplicate) naming the row it duplicates.
See docs/dedup.md.`,
  flags,
);

export interface DedupOptions {
  inputs: string[];
  out: string;
  exact?: ExactMode;
  near?: { what: (typeof NEAR_TEXTS)[number]; params: NearParams };
  buckets?: number;
  shardRows?: number;
  compression?: Compression;
  keepWork: boolean;
  tasks?: number;
  quiet: boolean;
  command: string[];
}

function parse(argv: string[]): Parsed {
  return parseFlagsOnly(argv, flags, 'dedup', 'inputs go in --input DIR (repeatable)');
}

export function check(argv: string[]): void {
  options(argv);
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`mmcurate dedup: --${flag} ${v}: expected one of ${allowed.join(', ')}`);
  return v as T;
}

export function options(argv: string[]): DedupOptions {
  const p = parse(argv);
  const inputs = list(p, 'input');
  if (!inputs.length) throw new UsageError('mmcurate dedup: give at least one --input DIR (an mmcurate dataset)');
  const out = str(p, 'out');
  if (!out) throw new UsageError('mmcurate dedup: --out is required (see mmcurate dedup --help)');
  const exact = str(p, 'exact');
  const near = str(p, 'near');
  if (!!exact === !!near) throw new UsageError('mmcurate dedup: give exactly one of --exact KEY or --near TEXT (run two dedup stages for both, exact first: it is cheaper)');
  const nearOnly = ['ngram', 'bands', 'rows', 'threshold', 'verify', 'seed'].filter((f) => p.flags[f] !== undefined);
  if (exact && nearOnly.length) throw new UsageError(`mmcurate dedup: --${nearOnly[0]} applies to --near only`);
  const threshold = num(p, 'threshold') ?? 0.8;
  if (!(threshold > 0 && threshold <= 1)) throw new UsageError(`mmcurate dedup: --threshold ${threshold}: expected a Jaccard similarity in (0, 1]`);
  const o: DedupOptions = {
    inputs: inputs.map((d) => resolve(d)),
    out: resolve(out),
    buckets: num(p, 'buckets'),
    shardRows: num(p, 'shard-rows'),
    compression: str(p, 'compression') as Compression | undefined,
    keepWork: bool(p, 'keep-work'),
    tasks: num(p, 'tasks'),
    quiet: bool(p, 'quiet'),
    command: ['mmcurate', 'dedup', ...argv],
  };
  if (exact) o.exact = oneOf('exact', exact, EXACT_MODES);
  else {
    const params: NearParams = {
      ngram: num(p, 'ngram') ?? 5,
      bands: num(p, 'bands') ?? 14,
      rows: num(p, 'rows') ?? 8,
      threshold,
      seed: num(p, 'seed') ?? 1,
      verify: oneOf('verify', str(p, 'verify') ?? 'exact', VERIFY),
      maxReps: 16,
    };
    o.near = { what: oneOf('near', near!, NEAR_TEXTS), params };
  }
  return o;
}

/** Whether a key makes sense for a layout; the error says what to use instead. */
function checkKey(o: DedupOptions, layout: DedupLayout, dir: string): void {
  const want = o.exact ?? o.near!.what;
  const bad =
    (want === 'caption' && layout !== 'caption') ||
    (want === 'interleaved' && layout !== 'interleaved') ||
    ((want === 'image' || want === 'image+caption') && layout === 'text');
  if (bad) throw new UsageError(`mmcurate dedup: --${o.exact ? 'exact' : 'near'} ${want} does not apply to ${dir}, a ${layout} dataset; use ${layout === 'text' ? 'text or url' : layout === 'interleaved' ? 'text, interleaved, image or url' : 'caption, image, image+caption or url'}`);
}

async function plan(o: DedupOptions, ctx: PlanContext): Promise<StepPlan[]> {
  const parts: DedupPart[] = [];
  let layout: DedupLayout | undefined;
  const columns: string[] = [];
  let base = 0;
  for (const [k, dir] of o.inputs.entries()) {
    if (resolve(dir) === o.out) throw new UsageError(`mmcurate dedup: --out must differ from --input ${dir}`);
    const ds = openDataset(dir);
    const l = ds.manifest.layout;
    if (l !== 'caption' && l !== 'interleaved' && l !== 'text') throw new UsageError(`--input ${dir}: a ${l} dataset; dedup reads caption, interleaved or text datasets (dedup before mixing)`);
    if (layout && l !== layout) throw new UsageError(`--input ${dir} is a ${l} dataset but ${o.inputs[0]} is ${layout}; every input of one dedup must have the same layout`);
    layout = l;
    checkKey(o, l, dir);
    for (const c of ds.manifest.columns ?? []) if (!columns.includes(c)) columns.push(c);
    ds.manifest.shards.forEach((s, i) => {
      parts.push({ input: k, file: s.path, path: ds.shardPaths[i]!, rows: s.rows, base });
      base += s.rows;
    });
  }
  let kv: Record<string, unknown> = {};
  if (parts[0]) {
    try {
      kv = JSON.parse((await openParquet(parts[0].path)).kv.mmcurate ?? '{}') as Record<string, unknown>;
    } catch {
      /* a shard without mmcurate metadata: none carried over */
    }
  }
  const total = base;
  const buckets = o.buckets ?? Math.max(1, o.exact ? Math.ceil(total / 2_000_000) : Math.ceil((total * o.near!.params.bands) / 4_000_000));
  const spec: DedupSpec = {
    step: 'write',
    // ctx.dir: where tasks write (a local work folder when --out is a bucket: storage/outdir.ts)
    work: paths.work(ctx.dir),
    inputs: o.inputs,
    parts,
    layout: layout!,
    ...(o.exact ? { exact: o.exact } : { near: o.near! }),
    buckets,
    write: { columns, kv: { ...kv, stage: 'dedup' }, ...(o.shardRows ? { maxShardRows: o.shardRows } : {}), ...(o.compression ? { compression: o.compression } : {}) },
  };
  const partWorld = worldOf(Math.min(Math.max(1, parts.length), 256), ctx.tasks);
  const bucketWorld = worldOf(Math.min(buckets, 256), ctx.tasks);
  const m = 'dedup/tasks.js';
  // a small input runs in-process: starting worker threads (each loading the Parquet reader) would cost more
  // than the work
  const small = total < 20_000 ? { lanes: 1 } : {};
  const steps: StepPlan[] = o.exact
    ? [
        { step: 'hash', world: partWorld, module: m, spec: { ...spec, step: 'hash' }, total, unit: 'rows', ...small },
        { step: 'resolve', world: bucketWorld, module: m, spec: { ...spec, step: 'resolve' }, needs: ['hash'], total, unit: 'rows', ...small },
        { step: 'write', world: partWorld, module: m, spec, needs: ['resolve'], total, unit: 'rows', ...small },
      ]
    : [
        { step: 'sign', world: partWorld, module: m, spec: { ...spec, step: 'sign' }, total, unit: 'rows', ...small },
        { step: 'bands', world: bucketWorld, module: m, spec: { ...spec, step: 'bands' }, needs: ['sign'], ...small },
        { step: 'components', world: 1, module: m, spec: { ...spec, step: 'components' }, needs: ['bands', 'sign'] },
        { step: 'write', world: partWorld, module: m, spec, needs: ['components'], total, unit: 'rows', ...small },
      ];
  const manifest: DedupManifestSpec = { command: ctx.command, spec, worlds: Object.fromEntries(steps.map((s) => [s.step, s.world])), keepWork: o.keepWork };
  steps.push({ step: 'manifest', world: 1, module: 'dedup/manifest.js', spec: manifest, how: ['command', 'keepWork'] });
  return steps;
}

export const stage: StageDef<DedupOptions> = {
  command: 'dedup',
  parse: options,
  out: (o) => o.out,
  steps: (o): StepDecl[] =>
    [...(o.exact ? ['hash', 'resolve'] : ['sign', 'bands', 'components']), 'write', 'manifest'].map((name) => ({ name, global: name === 'components' || name === 'manifest' })),
  plan,
};

export async function dedup(o: DedupOptions): Promise<Manifest> {
  await runLocal(stage, o, { tasks: o.tasks, quiet: o.quiet, command: o.command, argv: o.command.slice(2) });
  return readManifest(o.out);
}

export function run(argv: string[]): Promise<number> {
  return runStageCommand(argv, help, (a) => parse(a).help, options, dedup);
}
