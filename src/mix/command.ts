/**
 * `mmcurate mix`: a training mixture at chosen ratios, from ingest (score, coreset) outputs. Validates
 * everything first, plans counts, picks rows and their order as index arrays, then writes the shards in a
 * --out under the stage contract: a shard appears whole or not at all, and the manifest (written last) marks
 * the mixture complete; a failed run is resumed by running it again.
 */
import { resolve } from '../storage/location.js';
import { readTextSync } from '../storage/sync.js';
import { workDir } from '../storage/outdir.js';
import { runLocal } from '../run/executor.js';
import { markerState } from '../run/markers.js';
import { worldOf, type StageDef } from '../run/contract.js';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { formatHelp, list, num, parseFlagsOnly, QUIET_FLAG, str, type Flags, type Parsed } from '../cli/args.js';
import { UsageError } from '../errors.js';
import { KINDS, type Kind } from '../records.js';
import { SHORT_POLICIES, loadRecipe, type By, type Recipe, type ShortPolicy } from '../recipes/load.js';
import type { Stats } from '../write/accounting.js';
import { readManifest, type Manifest, type Step } from '../write/manifest.js';
import { selectColumns } from '../write/parquet-schema.js';
import { openInputs, type InputDataset, type InputSource } from './inputs.js';
import { kindStreams, type KindStream } from './order.js';
import type { Seed } from './random.js';
import { planMix, type MixPlan } from './plan.js';
import { parseInput, parseRatios } from './ratios.js';
import { overrideRecipe, planSources, recipeFromFlags, requireMixKinds, withInputWeights, type Overrides } from './recipe.js';
import { repeatNotes, selectRows, type Selection, type SourceRows } from './select.js';
import { tokenCounter } from './tokens.js';
import { COMPRESSION_FLAG, type Compression } from '../write/compression.js';

/** The command's flags; the library API's MixOptions are generated from this table (src/api/types.ts). */
export const flags = {
  input: { type: 'list', required: true, help: 'KIND=DIR[:WEIGHT], repeatable: an mmcurate dataset; each source in it is mixed within KIND (weight: its share inside the kind)' },
  ratio: { type: 'string', help: 'kind ratios, e.g. caption=45,interleaved=45,text=10 (any scale)' },
  recipe: { type: 'string', help: 'a recipe file or the name of one in pipelines/ (mmcurate recipes lists them)' },
  by: { type: 'string', help: 'what the ratios count: samples (default) or tokens' },
  tokenizer: { type: 'string', help: 'tokenizer.json for --by tokens (default: estimate, ceil(characters / 4))' },
  'visual-tokens': { type: 'number', help: 'tokens per image when by tokens (default 144, MM1 C-Abstractor)' },
  total: { type: 'number', help: 'mixture size in samples (or tokens); default: the largest the inputs allow' },
  'on-short': { type: 'string', help: 'a source too small for the ratios: shrink (default), upsample (repeat it, seeded) or error' },
  seed: { type: 'string', help: 'seed of the selection and the order (default: the recipe\'s, else 0)' },
  out: { type: 'string', required: true, help: 'output folder (must not exist, or be empty)' },
  'shard-rows': { type: 'number', help: 'rows per output shard at most (default 1,000,000; shards also close at 256 MB)' },
  tasks: { type: 'number', integer: true, min: 1, help: 'tasks of the map and write steps (default: one per input shard, one writer)' },
  compression: COMPRESSION_FLAG,
  quiet: QUIET_FLAG,
} as const satisfies Flags;

export const help = formatHelp(
  'mmcurate mix --input KIND=DIR[:WEIGHT] ... (--ratio caption=45,interleaved=45,text=10 | --recipe R) --out DIR',
  'Mixes datasets at exact ratios (by samples or tokens) into one stream in the unified mixture schema,\n' +
    'kinds spread evenly (every 1,000 consecutive samples within 2 points of the ratios), shuffled by the seed.\n' +
    'Same inputs and seed give byte-identical shards. See docs/mix.md.',
  flags,
);

function parseSeed(s: string | undefined): number | string | undefined {
  if (s === undefined) return undefined;
  return /^-?\d{1,15}$/.test(s) ? Number(s) : s;
}

function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${flag} ${v}: expected one of ${allowed.join(', ')}`);
  return v as T;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

function reportHead(plan: MixPlan, sel: Selection[], notes: readonly string[], out: string): string {
  const unit = plan.by === 'tokens' ? 'tokens' : 'rows';
  const rows = sel.reduce((a, s) => a + s.rows.length, 0);
  const lines = [`mix: ${rows.toLocaleString('en-US')} rows by ${plan.by}${plan.by === 'tokens' ? ` (${plan.total.toLocaleString('en-US')} tokens planned)` : ''} -> ${out}`];
  const w = Math.max(6, ...plan.sources.map((s) => s.name.length));
  lines.push(`  ${'source'.padEnd(w)}  ${'kind'.padEnd(11)}  ${'available'.padStart(11)}  ${'planned'.padStart(11)}  ${'realized'.padStart(11)}  ${'share'.padStart(7)}  epochs`);
  plan.sources.forEach((s, i) => {
    const got = sel[i]!.units;
    lines.push(`  ${s.name.padEnd(w)}  ${s.kind.padEnd(11)}  ${Math.round(s.available).toLocaleString('en-US').padStart(11)}  ${Math.round(s.target).toLocaleString('en-US').padStart(11)}  ${got.toLocaleString('en-US').padStart(11)}  ${pct(s.share).padStart(7)}  ${sel[i]!.epochs.toFixed(3)}`);
  });
  const byKind = plan.kinds.map((k) => {
    const got = plan.sources.reduce((a, s, i) => a + (s.kind === k.kind ? sel[i]!.units : 0), 0);
    return `${k.kind} ${got.toLocaleString('en-US')} ${unit} (${pct(got / Math.max(1, plan.sources.reduce((a, _, i) => a + sel[i]!.units, 0)))}, target ${pct(k.ratio)})`;
  });
  lines.push(`  kinds: ${byKind.join('; ')}`);
  for (const n of notes) lines.push(`  note: ${n}`);
  return lines.join('\n') + '\n';
}

/** The report's last line: what was written. */
export function reportTail(m: Manifest, out: string): string {
  return `  ${m.shards.length} shard(s), ${(m.shards.reduce((a, s) => a + s.bytes, 0) / 1e6).toFixed(1)} MB; manifest: ${out}/manifest.json; check it with: mmcurate audit ${out}\n`;
}

/**
 * By tokens a budget smaller than the documents drawn for it selects nothing: a plan that selects no row
 * at all is refused rather than written as an empty mixture.
 */
function refuseEmpty(plan: MixPlan, data: readonly SourceRows[], sel: readonly Selection[]): void {
  if (sel.some((s) => s.rows.length > 0)) return;
  const smallest = plan.kinds.map((k) => {
    let min = Infinity;
    plan.sources.forEach((s, i) => {
      if (s.kind !== k.kind || s.target <= 0) return;
      const t = data[i]!.tokens;
      if (t) for (let r = 0; r < t.length; r++) if (t[r]! > 0 && t[r]! < min) min = t[r]!;
    });
    return `${k.kind} ${Math.round(k.target).toLocaleString('en-US')} (its smallest document ${Number.isFinite(min) ? min.toLocaleString('en-US') : 'none'})`;
  });
  const what = plan.requestedTotal !== undefined ? `--total ${plan.requestedTotal.toLocaleString('en-US')} ${plan.by}` : `a total of ${plan.total.toLocaleString('en-US')} ${plan.by}`;
  throw new UsageError(
    `${what} selects no rows: it is smaller than one document of each kind (token budgets: ${smallest.join(', ')}); raise --total`,
  );
}

/** `write` receives what the command prints (stdout by default; tests capture it). */

/** Checks an argv, flags and values, without reading any input (a pipeline checks every stage before the first runs). */
export function check(argv: string[]): void {
  options(argv);
}

function parse(argv: string[]): Parsed {
  return parseFlagsOnly(argv, flags, 'mix', 'inputs go in --input KIND=DIR');
}

/**
 * Every check of a mix request that needs no input: flags, ratios, the recipe, the tokenizer. The command, the
 * library API and a pipeline's up-front check all run it before anything is read or written.
 */
function mixRequest(p: Parsed) {
  const specs = list(p, 'input').map(parseInput);
  if (!specs.length) throw new UsageError('mmcurate mix: give at least one --input KIND=DIR (e.g. --input caption=out/captions)');
  const ratioFlag = str(p, 'ratio');
  const recipeFlag = str(p, 'recipe');
  if (ratioFlag && recipeFlag) throw new UsageError('mmcurate mix: give --ratio or --recipe, not both (the recipe sets the ratios)');
  if (!ratioFlag && !recipeFlag) throw new UsageError(`mmcurate mix: give --ratio (e.g. caption=45,interleaved=45,text=10) or --recipe (e.g. mm1-pretrain)`);
  const total = num(p, 'total');
  if (total !== undefined && !(Number.isInteger(total) && total >= 1)) throw new UsageError(`--total ${total}: expected a whole number >= 1`);
  const visual = num(p, 'visual-tokens');
  if (visual !== undefined && !(Number.isInteger(visual) && visual >= 0)) throw new UsageError(`--visual-tokens ${visual}: expected a whole number >= 0`);
  const shardRows = num(p, 'shard-rows');
  if (shardRows !== undefined && !(Number.isInteger(shardRows) && shardRows >= 1)) throw new UsageError(`--shard-rows ${shardRows}: expected a whole number >= 1`);
  const overrides: Overrides = {};
  const by = oneOf<By>('by', str(p, 'by'), ['samples', 'tokens']);
  const onShort = oneOf<ShortPolicy>('on-short', str(p, 'on-short'), SHORT_POLICIES);
  const seed = parseSeed(str(p, 'seed'));
  if (by) overrides.by = by;
  if (total !== undefined) overrides.total = total;
  if (onShort) overrides.onShort = onShort;
  if (seed !== undefined) overrides.seed = seed;
  if (visual !== undefined) overrides.visualTokensPerImage = visual;

  // Everything that can be wrong with the request is found before any input is read.
  const ratios = ratioFlag ? parseRatios(ratioFlag) : undefined;
  const fileRecipe = recipeFlag ? overrideRecipe(loadRecipe(recipeFlag), overrides) : undefined;
  if (fileRecipe) requireMixKinds(fileRecipe);
  const byNow = fileRecipe?.by ?? by ?? 'samples';
  const tokenizerFile = str(p, 'tokenizer');
  if (tokenizerFile && byNow !== 'tokens') throw new UsageError('--tokenizer counts tokens for --by tokens; add --by tokens or drop --tokenizer');
  const counter = byNow === 'tokens' ? tokenCounter(tokenizerFile) : undefined;
  const visualTokens = fileRecipe?.visualTokensPerImage ?? visual ?? 144;
  const compression = str(p, 'compression') as Compression | undefined;
  return { specs, ratios, fileRecipe, overrides, shardRows, counter, visualTokens, compression };
}

/** What the select step decides: everything the map, write and manifest steps need (tasks.ts persists it). */
export interface MixSelection {
  datasets: InputDataset[];
  sources: InputSource[];
  streams: KindStream[];
  prompts: (readonly string[] | undefined)[];
  seed: Seed;
  columns: string[];
  maxShardRows?: number;
  compression?: Compression;
  /** The command's report without its last line (the shards, known once written). */
  report: string;
  manifest: { stats: Stats; mix: Record<string, unknown>; columns: string[]; kinds: Partial<Record<Kind, number>>; steps: Step[]; inputs: unknown[] };
}

/**
 * The mix's select step: reads the inputs (row counts, sources, tokens; never image bytes), plans the counts,
 * picks the rows and their order. Every check of the request runs here, before anything is written.
 */
export async function selectMix(argv: string[], out: string): Promise<MixSelection> {
  const { specs, ratios, fileRecipe, overrides, shardRows, counter, visualTokens, compression } = mixRequest(parse(argv));

  const { datasets, sources } = await openInputs(specs, counter ? { tokens: { counter, visualTokensPerImage: visualTokens } } : {});
  const recipe: Recipe = fileRecipe ? withInputWeights(fileRecipe, sources) : recipeFromFlags(ratios!, sources, overrides);
  const planned = planSources(recipe, sources, !!fileRecipe).map((s, i) => ({
    ...s,
    available: recipe.by === 'tokens' ? sources[i]!.tokens!.reduce((a, t) => a + t, 0) : sources[i]!.rows.length,
  }));
  const seedUsed = recipe.seed ?? 0;
  const plan = planMix({
    by: recipe.by,
    ratios: new Map(recipe.kinds.map((k) => [k.kind, k.ratio])),
    sources: planned,
    ...(recipe.total !== undefined ? { total: recipe.total } : recipe.counts ? { total: recipe.kinds.reduce((a, k) => a + k.ratio, 0) } : {}),
    onShort: recipe.onShort,
  });

  const specHash = createHash('sha256')
    .update(
      JSON.stringify({
        inputs: datasets.map((d) => ({ kind: d.spec.kind, weight: d.spec.weight ?? null, shards: d.manifest.shards.map((s) => s.sha256) })),
        recipe: recipe.raw,
        tokens: counter?.method ?? null,
        shardRows: shardRows ?? null,
        ...(compression ? { compression } : {}),
      }),
    )
    .digest('hex');
  const rowSets: SourceRows[] = sources.map((s) => ({ rows: s.rows.length, ...(s.tokens ? { tokens: s.tokens } : {}) }));
  const selections = selectRows(plan, rowSets, seedUsed);
  refuseEmpty(plan, rowSets, selections);
  const notes = [...plan.notes, ...repeatNotes(plan, rowSets, selections)];
  const kindsInOrder = KINDS.filter((k) => plan.kinds.some((pk) => pk.kind === k));
  const streams = kindStreams(
    kindsInOrder,
    plan.sources.map((s) => s.kind),
    selections,
    seedUsed,
  );
  const rows = selections.reduce((a, s) => a + s.rows.length, 0);
  const optional = datasets.some((d) => d.hasClipScore) ? ['clip_score'] : [];
  const realizedKind = (k: Kind, f: (s: Selection) => number): number => plan.sources.reduce((a, s, i) => a + (s.kind === k ? f(selections[i]!) : 0), 0);
  const stats = Object.fromEntries(plan.sources.map((s, i) => [s.name, { read: selections[i]!.rows.length, kept: selections[i]!.rows.length, rejected: 0, rejected_by_reason: {} }]));
  const mix = {
    recipe: recipe.raw,
    recipe_file: recipe.file ?? null,
    by: recipe.by,
    seed: seedUsed,
    on_short: recipe.onShort,
    visual_tokens_per_image: recipe.visualTokensPerImage,
    tokens: counter?.method ?? null,
    tokenizer: counter?.tokenizer ?? null,
    total: { requested: plan.requestedTotal ?? null, planned: plan.total, realized: recipe.by === 'tokens' ? selections.reduce((a, s) => a + s.units, 0) : rows },
    limited_by: plan.limitedBy ?? null,
    notes,
    kinds: Object.fromEntries(
      plan.kinds.map((k) => [k.kind, { ratio: k.ratio, exact: k.exact, planned: k.target, rows: realizedKind(k.kind, (s) => s.rows.length), ...(recipe.by === 'tokens' ? { tokens: realizedKind(k.kind, (s) => s.units) } : {}) }]),
    ),
    sources: Object.fromEntries(
      plan.sources.map((s, i) => [
        s.name,
        {
          kind: s.kind,
          input: datasets[sources[i]!.dataset]!.dir,
          available_rows: sources[i]!.rows.length,
          ...(recipe.by === 'tokens' ? { available_tokens: s.available } : {}),
          weight: s.weight ?? null,
          share: s.share,
          planned: s.target,
          rows: selections[i]!.rows.length,
          ...(recipe.by === 'tokens' ? { tokens: selections[i]!.units } : {}),
          epochs: selections[i]!.epochs,
        },
      ]),
    ),
    spec_hash: specHash,
  };
  return {
    datasets,
    sources,
    streams,
    prompts: sources.map((s) => recipe.kinds.find((k) => k.kind === s.kind)?.sources.find((x) => x.name === s.name)?.prompts),
    seed: seedUsed,
    columns: optional,
    ...(shardRows ? { maxShardRows: shardRows } : {}),
    ...(compression ? { compression } : {}),
    report: reportHead(plan, selections, notes, out),
    manifest: {
      stats,
      mix,
      columns: selectColumns('mixture', optional).map((c) => c.name),
      kinds: Object.fromEntries(kindsInOrder.map((k) => [k, realizedKind(k, (s) => s.rows.length)])),
      steps: [
        { name: 'inputs', in: datasets.reduce((a, d) => a + d.rows, 0), out: sources.reduce((a, s) => a + s.rows.length, 0) },
        { name: 'mix', in: sources.reduce((a, s) => a + s.rows.length, 0), out: rows },
      ],
      inputs: datasets.map((d) => ({ kind: d.spec.kind, dir: d.dir, weight: d.spec.weight ?? null, rows: d.rows })),
    },
  };
}

export interface MixOptions {
  argv: string[];
  out: string;
  quiet: boolean;
  tasks?: number;
}

/**
 * The mix stage under the contract: select (global: the plan needs every input's counts) → map ×N (input
 * shards, read once, rows spilled to buckets of output positions) → write ×N (runs of buckets, in order) →
 * manifest. See docs/ARCHITECTURE.md.
 */
export const stage: StageDef<MixOptions> = {
  command: 'mix',
  parse(argv) {
    const p = parse(argv);
    const outFlag = str(p, 'out');
    if (!outFlag) throw new UsageError('mmcurate mix: --out is required (see mmcurate mix --help)');
    return { argv, out: resolve(outFlag), quiet: !!p.flags.quiet, tasks: num(p, 'tasks') };
  },
  out: (o) => o.out,
  steps: () => [{ name: 'select', global: true }, { name: 'map', global: false }, { name: 'write', global: false }, { name: 'manifest', global: true }],
  async plan(o, ctx) {
    // what the mixture is: every flag but where it goes, how loudly, and how many tasks
    const what = o.argv.filter((a, i, all) => !/^--(out|quiet|tasks)(=|$)/.test(a) && !(['--out', '--tasks'].includes(all[i - 1]!) && !a.startsWith('--')));
    const inputs = list(parse(o.argv), 'input').map(parseInput);
    // the map step's natural world: one task per input shard (read from the inputs' manifests)
    let shards = 0;
    for (const i of inputs) {
      try {
        shards += (JSON.parse(readTextSync(path.join(i.dir, 'manifest.json')) ?? '') as Manifest).shards.length;
      } catch {
        shards += 1; // a missing or broken input is named by the select step
      }
    }
    // ctx.dir: where tasks write (a local work folder when --out is a bucket: storage/outdir.ts)
    const work = path.join(ctx.dir, '_work', 'mix');
    const spec = { work, what, inputs: inputs.map((i) => resolve(i.dir)) };
    const mapWorld = worldOf(Math.min(Math.max(1, shards), 256), ctx.tasks);
    const writeWorld = worldOf(1, ctx.tasks);
    return [
      { step: 'select', world: 1, module: 'mix/tasks.js', spec: { ...spec, step: 'select', argv: o.argv, writeWorld }, how: ['argv'] },
      { step: 'map', world: mapWorld, module: 'mix/tasks.js', spec: { ...spec, step: 'map' }, needs: ['select'], total: shards, unit: 'shards' },
      { step: 'write', world: writeWorld, module: 'mix/tasks.js', spec: { ...spec, step: 'write', mapWorld }, needs: ['select', 'map'] },
      { step: 'manifest', world: 1, module: 'mix/tasks.js', spec: { ...spec, step: 'manifest', mapWorld, writeWorld, command: ctx.command }, how: ['command'] },
    ];
  },
};

/** The options of a command line, after every check that needs no input (mixRequest). */
export function options(argv: string[]): MixOptions {
  const o = stage.parse(argv);
  mixRequest(parse(argv));
  return o;
}

/** Run the stage; returns the manifest it wrote. */
export async function mix(o: MixOptions): Promise<Manifest> {
  await runLocal(stage, o, { quiet: o.quiet, tasks: o.tasks, command: ['mmcurate', 'mix', ...o.argv], argv: o.argv });
  return readManifest(o.out);
}

export async function run(argv: string[], write: (text: string) => void = (t) => void process.stdout.write(t)): Promise<number> {
  const p = parse(argv);
  if (p.help) {
    write(help);
    return 0;
  }
  const o = options(argv);
  await mix(o);
  const m = markerState(o.out, 'manifest', 0);
  // the report names the folder its task wrote in: the local work folder when --out is a bucket
  if (m.state === 'done') write(String((m.result.extra as { report?: string }).report ?? '').split(workDir(o.out)).join(o.out));
  return 0;
}
