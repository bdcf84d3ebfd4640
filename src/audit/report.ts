/**
 * The audit's verdict: the shards as measured (scan.ts) against the recipe and against the manifest
 * (verify.ts). A ratio passes when it is within the tolerance in percentage points, or within the rounding
 * no mixture can beat (one sample; by tokens, one document). Shards that disagree with their manifest
 * always fail.
 */
import { validateRecipe, normalisedRatios, type Recipe } from '../recipes/load.js';
import { errorMessage } from '../errors.js';
import type { ScanStats } from './scan.js';
import type { Verification } from './verify.js';

export const DEFAULT_TOLERANCE_PP = 0.5;

export interface RatioRow {
  name: string;
  /** The kind (for a source row, the kind it belongs to). */
  kind: string;
  /** Rows, or tokens when the recipe is by tokens. */
  count: number;
  /** Share of the whole mixture, 0..1. */
  share: number;
  /** The recipe's share, or null when the recipe says nothing about it. */
  target: number | null;
  /** (share − target) in percentage points. */
  deviationPP: number | null;
  /** Counts within this many units of the target pass whatever the tolerance: the rounding floor. */
  allowance: number;
  ok: boolean;
}

export interface AuditReport {
  dir: string;
  ok: boolean;
  failures: string[];
  /** What a reader should know that is not a failure (e.g. a dataset with no rows and no recipe). */
  warnings: string[];
  rows: number;
  shards: number;
  by: 'samples' | 'tokens';
  tokens: ScanStats['tokens'];
  recipe: { name: string; file: string | null } | null;
  tolerancePP: number;
  kinds: RatioRow[];
  sources: RatioRow[];
  largestDeviation: { name: string; pp: number } | null;
  duplicates: { ids: number; content: number; expectedFromUpsampling: number };
  rejectsByReason: Record<string, number>;
  scores: ScanStats['scores'];
  imagesWithoutBytes: number;
  manifest: { ok: boolean; problems: string[]; sha256Checked: boolean };
}

interface MixSection {
  recipe?: unknown;
  recipe_file?: string | null;
  kinds?: Record<string, { rows?: number }>;
  sources?: Record<string, { kind?: string; rows?: number; available_rows?: number }>;
}

/** The recipe recorded in a mixture's manifest, if any. */
export function recipeFromManifest(v: Verification): Recipe | undefined {
  const mix = v.manifest.mix as MixSection | undefined;
  if (!mix?.recipe) return undefined;
  try {
    return { ...validateRecipe(mix.recipe, `${v.dir}/manifest.json#/mix/recipe`), ...(mix.recipe_file ? { file: mix.recipe_file } : {}) };
  } catch (err) {
    throw new Error(`the recipe recorded in ${v.dir}/manifest.json is not valid: ${errorMessage(err)}`);
  }
}

function ratioRow(name: string, kind: string, count: number, total: number, target: number | null, allowance: number, tolerancePP: number): RatioRow {
  const share = total > 0 ? count / total : 0;
  if (target === null) return { name, kind, count, share, target, deviationPP: null, allowance, ok: true };
  const deviationPP = (share - target) * 100;
  const ok = Math.abs(count - target * total) <= allowance + 1e-9 || Math.abs(deviationPP) <= tolerancePP + 1e-12;
  return { name, kind, count, share, target, deviationPP, allowance, ok };
}

export function buildReport(scan: ScanStats, v: Verification, opts: { recipe?: Recipe; tolerancePP?: number; sha256Checked: boolean }): AuditReport {
  const tolerancePP = opts.tolerancePP ?? DEFAULT_TOLERANCE_PP;
  const recipe = opts.recipe;
  const by = recipe?.by ?? 'samples';
  const unit = (x: { rows: number; tokens: number }): number => (by === 'tokens' ? x.tokens : x.rows);
  const total = by === 'tokens' ? scan.tokens.total : scan.rows;
  const failures: string[] = [];
  const warnings: string[] = [];
  if (scan.rows === 0) {
    // Every share of nothing is "within one sample" of its target: an empty mixture must not pass.
    if (recipe) failures.push(`the dataset holds no rows: there is nothing to check the recipe's ratios against`);
    else warnings.push('the dataset holds no rows');
  }

  const ratios = recipe ? normalisedRatios(recipe) : undefined;
  const kindNames = [...new Set([...(recipe?.kinds.map((k) => k.kind) ?? []), ...Object.keys(scan.kinds)])];
  const kinds = kindNames.map((k) => {
    const ks = scan.kinds[k] ?? { rows: 0, tokens: 0, maxDocTokens: 0, images: 0 };
    const target = ratios ? (ratios.get(k as never) ?? 0) : null;
    return ratioRow(k, k, unit(ks), total, target, by === 'tokens' ? ks.maxDocTokens : 1, tolerancePP);
  });

  const sourceNames = [...new Set([...(recipe?.kinds.flatMap((k) => k.sources.map((s) => s.name)) ?? []), ...Object.keys(scan.sources)])];
  const kindOrder = (k: string): number => (kindNames.indexOf(k) < 0 ? kindNames.length : kindNames.indexOf(k));
  const sources = sourceNames.map((name) => {
    const ss = scan.sources[name] ?? { kind: recipe?.kinds.find((k) => k.sources.some((s) => s.name === name))?.kind ?? '?', rows: 0, tokens: 0 };
    const rk = recipe?.kinds.find((k) => k.kind === ss.kind);
    let target: number | null = null;
    if (rk && ratios && rk.sources.length > 0) {
      const rs = rk.sources.find((s) => s.name === name);
      const w = (s: { weight?: number; count?: number }): number => s.count ?? s.weight ?? 1;
      const wSum = rk.sources.reduce((a, s) => a + w(s), 0);
      target = rs ? ((ratios.get(rk.kind) ?? 0) * w(rs)) / wSum : 0;
    }
    // Two roundings (kind, then source) by samples; by tokens each source of the kind may end one document off.
    const allowance = by === 'tokens' ? (scan.kinds[ss.kind]?.maxDocTokens ?? 0) * ((rk?.sources.length ?? 1) + 1) : 2;
    return ratioRow(name, ss.kind, unit(ss), total, target, allowance, tolerancePP);
  });
  sources.sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind) || a.name.localeCompare(b.name));

  for (const r of [...kinds, ...sources]) {
    if (r.ok) continue;
    const what = kinds.includes(r) ? `kind ${r.name}` : `source ${r.name}`;
    failures.push(`${what}: ${(r.share * 100).toFixed(2)}% against ${(r.target! * 100).toFixed(2)}% in the recipe (${r.deviationPP! >= 0 ? '+' : ''}${r.deviationPP!.toFixed(2)} pp, tolerance ${tolerancePP} pp)`);
  }
  let largest: AuditReport['largestDeviation'] = null;
  for (const r of [...kinds, ...sources]) {
    if (r.deviationPP !== null && (!largest || Math.abs(r.deviationPP) > Math.abs(largest.pp))) largest = { name: r.name, pp: r.deviationPP };
  }

  // The manifest's own claims about the rows, checked against what was read.
  const problems = [...v.problems];
  for (const u of scan.unreadable) if (!problems.some((p) => p.startsWith(`${u.path}:`))) problems.push(`${u.path}: not a readable Parquet file (${u.error})`);
  const m = v.manifest;
  if (typeof m.rows === 'number' && m.rows !== scan.rows) problems.push(`manifest.json: rows ${m.rows}, the shards hold ${scan.rows}`);
  for (const [k, n] of Object.entries(m.kinds ?? {})) {
    const got = scan.kinds[k]?.rows ?? 0;
    if (n !== got) problems.push(`manifest.json: kinds.${k} ${n}, the shards hold ${got}`);
  }
  const mix = m.mix as MixSection | undefined;
  let expectedDup = 0;
  for (const [name, s] of Object.entries(mix?.sources ?? {})) {
    const got = scan.sources[name]?.rows ?? 0;
    if (typeof s.rows === 'number' && s.rows !== got) problems.push(`manifest.json: mix.sources.${name}.rows ${s.rows}, the shards hold ${got}`);
    if (typeof s.rows === 'number' && typeof s.available_rows === 'number') expectedDup += Math.max(0, s.rows - s.available_rows);
  }
  for (const p of problems) failures.push(`manifest disagrees with the shards: ${p}`);

  return {
    dir: v.dir,
    ok: failures.length === 0,
    failures,
    warnings,
    rows: scan.rows,
    shards: scan.shards,
    by,
    tokens: scan.tokens,
    recipe: recipe ? { name: recipe.name, file: recipe.file ?? null } : null,
    tolerancePP,
    kinds,
    sources,
    largestDeviation: largest,
    duplicates: { ids: scan.duplicateIds, content: scan.duplicateContent, expectedFromUpsampling: expectedDup },
    rejectsByReason: scan.rejectsByReason,
    scores: scan.scores,
    imagesWithoutBytes: scan.imagesWithoutBytes,
    manifest: { ok: problems.length === 0, problems, sha256Checked: opts.sha256Checked },
  };
}
