/**
 * `mmcurate report PATH`: one self-contained HTML page of a dataset or a whole run (funnel, rejects with
 * pictures, mixture against its recipe, score histograms with thresholds and bands, image sizes, text
 * lengths and tokens, coreset clusters and near-duplicates, seeded sample grids). `--json` prints the
 * figures the page is drawn from.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { bool, formatHelp, num, parseArgs, str, type Flags, type Parsed } from '../cli/args.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../write/atomic.js';
import { buildModel, DEFAULTS } from './build.js';
import { renderHtml } from './html.js';
import type { ReportModel, ReportOptions } from './model.js';

/** The command's flags; the library's report() options are generated from this table (src/index.ts). */
export const flags = {
  out: { type: 'string', help: 'the HTML file to write (default: PATH/report.html)' },
  samples: { type: 'number', integer: true, min: 0, help: `images per sample grid (highest, lowest, random) and per cluster (default ${DEFAULTS.samples})` },
  seed: { type: 'number', integer: true, help: `seed of the random samples and reject examples (default ${DEFAULTS.seed})` },
  json: { type: 'boolean', help: 'print the figures as JSON (thumbnails left out) instead of writing HTML; with --out, write the page too' },
  quiet: { type: 'boolean', help: 'print nothing but the result' },
} as const satisfies Flags;

export const help = formatHelp(
  'mmcurate report PATH [--out report.html] [--samples N] [--seed S] [--json]',
  'Writes one self-contained HTML page (no network access when opened) of a dataset folder or the --out of a\n' +
    'whole run: the funnel per stage and step, rejects by reason with examples, the mixture against its recipe\n' +
    'and the audit verdict, score histograms with the threshold or band, image sizes and formats, text lengths,\n' +
    'tokens by kind, coreset clusters with the near-duplicates dedup removed, and seeded sample grids.',
  flags,
);

function parse(argv: string[]): Parsed {
  const p = parseArgs(argv, flags, 'report');
  if (!p.help && p.positional.length !== 1) throw new UsageError(`mmcurate report: name one dataset folder or run output, e.g. mmcurate report out/${p.positional.length ? ` (got ${p.positional.length})` : ''}`);
  return p;
}

export function check(argv: string[]): void {
  options(argv);
}

/** A report command line, parsed: every check that needs no input. */
export interface ReportCommandOptions {
  root: string;
  /** The HTML file; with `json`, written only when given. */
  out?: string;
  json: boolean;
  quiet: boolean;
  build: Partial<ReportOptions>;
}

export function options(argv: string[]): ReportCommandOptions {
  const p = parse(argv);
  const build: Partial<ReportOptions> = {};
  const samples = num(p, 'samples');
  const seed = num(p, 'seed');
  if (samples !== undefined) build.samples = samples;
  if (seed !== undefined) build.seed = seed;
  const out = str(p, 'out');
  return { root: p.positional[0]!, ...(out !== undefined ? { out } : {}), json: bool(p, 'json'), quiet: bool(p, 'quiet'), build };
}

/** The report's figures as `--json` prints them (thumbnails counted, not included). */
export type ReportJson = ReturnType<typeof withoutThumbs>;

/**
 * The figures of `o.root`, and the HTML page written to `o.out` when given (what `--json [--out F]` does);
 * progress goes to stderr unless quiet.
 */
export async function report(o: ReportCommandOptions): Promise<ReportJson> {
  const log = o.quiet ? undefined : (s: string) => void process.stderr.write(`${s}\n`);
  const model = o.out !== undefined ? (await writeReport(o.root, o.out, o.build, log)).model : await buildModel(o.root, o.build, log);
  return withoutThumbs(model);
}

/** The model without its thumbnails (data URIs): what --json prints. */
export function withoutThumbs(m: ReportModel): Omit<ReportModel, 'thumbs'> & { thumbs: number } {
  return { ...m, thumbs: Object.keys(m.thumbs).length };
}

export interface Written {
  file: string;
  bytes: number;
  seconds: number;
  model: ReportModel;
}

/**
 * Builds the page of `root` and writes it atomically to `out` (default root/report.html).
 * @example const { file } = await writeReport('out/'); console.log(file)
 */
export async function writeReport(root: string, out?: string, opts: Partial<ReportOptions> = {}, log?: (s: string) => void): Promise<Written> {
  const t0 = process.hrtime.bigint();
  const model = await buildModel(root, opts, log);
  const html = await renderHtml(model);
  const file = path.resolve(out ?? path.join(root, 'report.html'));
  writeFileAtomic(file, html);
  return { file, bytes: statSync(file).size, seconds: Number(process.hrtime.bigint() - t0) / 1e9, model };
}

export async function run(argv: string[]): Promise<number> {
  const p = parse(argv);
  if (p.help) {
    process.stdout.write(help);
    return 0;
  }
  const o = options(argv);
  if (o.json) {
    process.stdout.write(JSON.stringify(await report(o), null, 2) + '\n');
    return 0;
  }
  const log = o.quiet ? undefined : (s: string) => void process.stderr.write(`${s}\n`);
  const w = await writeReport(o.root, o.out, o.build, log);
  process.stdout.write(`report: ${w.file} (${(w.bytes / 1024).toFixed(0)} KiB, ${w.seconds.toFixed(1)} s)\n`);
  return 0;
}
