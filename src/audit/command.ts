/**
 * `mmcurate audit DIR`: proves a mixture from its shards alone. Exit 0 when it passes, 1 when a ratio is
 * off by more than the tolerance or the shards disagree with the manifest, 2 for bad usage.
 */
import { bool, formatHelp, num, parseArgs, str, type Flags, type Parsed } from '../cli/args.js';
import { UsageError } from '../errors.js';
import { loadRecipe } from '../recipes/load.js';
import { auditDataset } from './audit.js';
import { formatReport } from './format.js';
import { DEFAULT_TOLERANCE_PP } from './report.js';

const flags: Flags = {
  recipe: { type: 'string', help: "recipe to check against (file or name in pipelines/); default: the one the mixture's manifest records" },
  tolerance: { type: 'number', help: `allowed deviation of a ratio in percentage points (default ${DEFAULT_TOLERANCE_PP}); within one sample always passes` },
  tokenizer: { type: 'string', help: "tokenizer.json for token counts (default: the counting the mixture's manifest records; else the estimate, ceil(characters / 4))" },
  json: { type: 'boolean', help: 'print the report as JSON' },
  'no-sha256': { type: 'boolean', help: 'skip hashing the shards (sizes and row counts are still checked)' },
};

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
  parse(argv);
}

export async function run(argv: string[], write: (text: string) => void = (t) => void process.stdout.write(t)): Promise<number> {
  const p = parse(argv);
  if (p.help) {
    write(help);
    return 0;
  }
  const tolerance = num(p, 'tolerance');
  if (tolerance !== undefined && !(tolerance >= 0)) throw new UsageError(`--tolerance ${tolerance}: expected percentage points >= 0`);
  const recipeRef = str(p, 'recipe');
  const tokenizer = str(p, 'tokenizer');
  const report = await auditDataset(p.positional[0]!, {
    ...(recipeRef ? { recipe: loadRecipe(recipeRef) } : {}),
    ...(tolerance !== undefined ? { tolerancePP: tolerance } : {}),
    ...(tokenizer ? { tokenizer } : {}),
    sha256: !bool(p, 'no-sha256'),
  });
  write(bool(p, 'json') ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.ok ? 0 : 1;
}
