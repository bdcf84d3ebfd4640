/**
 * `auditDataset`: verify the folder against its manifest, scan every shard on disk, and judge the result
 * against the recipe (given, or the one the mixture's manifest records).
 */
import type { Recipe } from '../recipes/load.js';
import { DEFAULT_VISUAL_TOKENS } from '../recipes/load.js';
import { requireMixKinds } from '../mix/recipe.js';
import { estimateCounter, recordedCounter, tokenizerCounter, type TokenCounter } from '../mix/tokens.js';
import { buildReport, recipeFromManifest, type AuditReport } from './report.js';
import { scanShards } from './scan.js';
import { verifyDataset } from './verify.js';

export interface AuditOptions {
  recipe?: Recipe;
  tolerancePP?: number;
  /** tokenizer.json for token counts; default: the counting the mixture's manifest records, else the estimate. */
  tokenizer?: string;
  /** Hash every shard against the manifest (default true). */
  sha256?: boolean;
  flag?: string;
}

/**
 * @example const report = await auditDataset('out/mix', { tolerancePP: 0.5 }); if (!report.ok) process.exitCode = 1
 */
export async function auditDataset(dir: string, opts: AuditOptions = {}): Promise<AuditReport> {
  // A recipe without kinds (coreset-only) has no ratios to check: refused as mix refuses it.
  if (opts.recipe) requireMixKinds(opts.recipe);
  const v = await verifyDataset(dir, { flag: opts.flag ?? 'audit', sha256: opts.sha256 !== false });
  const recipe = opts.recipe ?? recipeFromManifest(v);
  const mix = v.manifest.mix as { visual_tokens_per_image?: number; tokens?: unknown; tokenizer?: { file?: unknown; sha256?: unknown } | null } | undefined;
  const visual = recipe?.visualTokensPerImage ?? mix?.visual_tokens_per_image ?? DEFAULT_VISUAL_TOKENS;
  // The same counting as the mix: --tokenizer when given, else the method the manifest records.
  let counter: TokenCounter;
  if (opts.tokenizer) counter = tokenizerCounter(opts.tokenizer);
  else if (typeof mix?.tokens === 'string') counter = recordedCounter(mix.tokens, mix.tokenizer, `${opts.flag ?? 'audit'} ${dir}`);
  else counter = estimateCounter();
  const present = v.shards.filter((s) => s.present).map((s) => s.path);
  const scan = await scanShards(dir, present, counter, visual);
  return buildReport(scan, v, { ...(recipe ? { recipe } : {}), ...(opts.tolerancePP !== undefined ? { tolerancePP: opts.tolerancePP } : {}), sha256Checked: opts.sha256 !== false });
}
