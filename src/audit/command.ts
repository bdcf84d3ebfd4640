/**
 * `mmcurate audit DIR`: proves a mixture from its shards alone. Exit 0 when it passes, 1 when a ratio is
 * off by more than the tolerance or the shards disagree with the manifest, 2 for bad usage.
 */
import { bool, formatHelp, num, parseArgs, str, type Flags, type Parsed } from '../cli/args.js';
import { UsageError } from '../errors.js';
import { loadRecipe } from '../recipes/load.js';
import { auditDataset, type AuditOptions } from './audit.js';
import { formatReport } from './format.js';
import { DEFAULT_TOLERANCE_PP, type AuditReport } from './report.js';

/** The command's flags; the library API's AuditOptions are generated from this table (src/api/types.ts). */
export const flags = {
  recipe: { type: 'string', help: "recipe to check against (file or name in pipelines/); default: the one the mixture's manifest records" },
  tolerance: { type: 'number', help: `allowed deviation of a ratio in percentage points (default ${DEFAULT_TOLERANCE_PP}); within one sample always passes` },
  tokenizer: { type: 'string', help: "tokenizer.json for token counts (default: the counting the mixture's manifest records; else the estimate, ceil(characters / 4))" },
  json: { type: 'boolean', help: 'print the report as JSON' },
  'no-sha256': { type: 'boolean', help: 'skip hashing the shards (sizes and row counts are still checked)' },
} as const satisfies Flags;

export const help = formatHelp(
  'mmcurate audit DIR [--recipe R] [--tolerance PP] [--json]',
  'Reads the shards themselves (not the manifest) and reports rows, tokens, ratios per kind and per source\n' +
    'against the recipe, duplicates, rejects by reason and score distributions, and checks every shard\n' +
    'against the manifest. Exit codes: 0 pass, 1 a ratio or the manifest check failed, 2 bad usage.',
  flags,
);

/** `write` receives what the command prints (stdout by default; tests capture it). */
function parse(argv: string[]): Parsed {
  const p = parseArgs(argv, flags, 'audit');
  if (!p.help && p.positional.length !== 1) throw new UsageError(`mmcurate audit: name one dataset folder, e.g. mmcurate audit out/mix${p.positional.length ? ` (got ${p.positional.length})` : ''}`);
  return p;
}

/** Checks an argv without running (a pipeline checks every stage before the first runs). */
export function check(argv: string[]): void {
  options(argv);
}

/** What an audit command line asks for, checked. */
export interface AuditRequest {
  dir: string;
  options: AuditOptions;
  json: boolean;
}

/** The request of a command line; every check runs here, before any shard is read. */
export function options(argv: string[]): AuditRequest {
  const p = parse(argv);
  const tolerance = num(p, 'tolerance');
  if (tolerance !== undefined && !(tolerance >= 0)) throw new UsageError(`--tolerance ${tolerance}: expected percentage points >= 0`);
  const recipeRef = str(p, 'recipe');
  const tokenizer = str(p, 'tokenizer');
  return {
    dir: p.positional[0]!,
    options: {
      ...(recipeRef ? { recipe: loadRecipe(recipeRef) } : {}),
      ...(tolerance !== undefined ? { tolerancePP: tolerance } : {}),
      ...(tokenizer ? { tokenizer } : {}),
      sha256: !bool(p, 'no-sha256'),
    },
    json: bool(p, 'json'),
  };
}

/** Audits the dataset; the report says whether it passed (ok). */
export function audit(r: AuditRequest): Promise<AuditReport> {
  return auditDataset(r.dir, r.options);
}

export async function run(argv: string[], write: (text: string) => void = (t) => void process.stdout.write(t)): Promise<number> {
  const p = parse(argv);
  if (p.help) {
    write(help);
    return 0;
  }
  const r = options(argv);
  const report = await audit(r);
  write(r.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.ok ? 0 : 1;
}
