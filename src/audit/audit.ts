/**
 * `auditDataset`: verify the folder against its manifest, scan every shard on disk, and judge the result
 * against the recipe (given, or the one the mixture's manifest records).
 */
import type { Recipe } from '../recipes/load.js';
import { DEFAULT_VISUAL_TOKENS } from '../recipes/load.js';
import { tokenCounter } from '../mix/tokens.js';
import { buildReport, recipeFromManifest, type AuditReport } from './report.js';
import { scanShards } from './scan.js';
import { verifyDataset } from './verify.js';

export interface AuditOptions {
  recipe?: Recipe;
  tolerancePP?: number;
  /** tokenizer.json for token counts; default: the documented estimate. */
  tokenizer?: string;
  /** Hash every shard against the manifest (default true). */
  sha256?: boolean;
  flag?: string;
}

/**
 * @example const report = await auditDataset('out/mix', { tolerancePP: 0.5 }); if (!report.ok) process.exitCode = 1
 */
export async function auditDataset(dir: string, opts: AuditOptions = {}): Promise<AuditReport> {
  const v = await verifyDataset(dir, { flag: opts.flag ?? 'audit', sha256: opts.sha256 !== false });
  const recipe = opts.recipe ?? recipeFromManifest(v);
  const mix = v.manifest.mix as { visual_tokens_per_image?: number } | undefined;
  const visual = recipe?.visualTokensPerImage ?? mix?.visual_tokens_per_image ?? DEFAULT_VISUAL_TOKENS;
  const present = v.shards.filter((s) => s.present).map((s) => s.path);
  const scan = await scanShards(dir, present, tokenCounter(opts.tokenizer), visual);
  return buildReport(scan, v, { ...(recipe ? { recipe } : {}), ...(opts.tolerancePP !== undefined ? { tolerancePP: opts.tolerancePP } : {}), sha256Checked: opts.sha256 !== false });
}
