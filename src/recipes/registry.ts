/**
 * The recipes shipped in pipelines/: what `mmcurate recipes` lists, one line each. A JSON file there is a
 * recipe when it points at recipe.schema.json or carries a citation with kinds or a coreset; other
 * pipeline files are left to their own commands.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { PIPELINES_DIR, validateRecipe, type Recipe } from './load.js';

export interface RecipeEntry {
  file: string;
  recipe?: Recipe;
  /** Why the file is not a valid recipe. */
  error?: string;
}

function looksLikeRecipe(data: unknown): boolean {
  if (!data || typeof data !== 'object') return false;
  const o = data as Record<string, unknown>;
  if (typeof o.$schema === 'string' && o.$schema.endsWith('recipe.schema.json')) return true;
  return 'citation' in o && ('kinds' in o || 'coreset' in o);
}

export function listRecipes(dir: string = PIPELINES_DIR): RecipeEntry[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const out: RecipeEntry[] = [];
  for (const f of files) {
    const file = path.join(dir, f);
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      out.push({ file, error: `not readable JSON (${errorMessage(err)})` });
      continue;
    }
    if (!looksLikeRecipe(data)) continue;
    try {
      out.push({ file, recipe: { ...validateRecipe(data, file), file } });
    } catch (err) {
      out.push({ file, error: errorMessage(err) });
    }
  }
  return out;
}

function compact(n: number): string {
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 100 === 0) return `${n / 1e3}K`;
  return String(n);
}

/** One line: name, what it mixes, and where it comes from. */
export function describeRecipe(r: Recipe): string {
  const parts: string[] = [];
  if (r.kinds.length) {
    const kinds = r.kinds.map((k) => k.kind).join(':');
    const ratios = r.kinds.map((k) => (r.counts ? compact(k.ratio) : String(k.ratio))).join(':');
    const nSources = r.kinds.reduce((a, k) => a + k.sources.length, 0);
    const total = r.counts ? r.kinds.reduce((a, k) => a + k.ratio, 0) : r.total;
    parts.push(`${kinds} = ${ratios} by ${r.by}`);
    if (nSources) parts.push(`${nSources} source${nSources === 1 ? '' : 's'}${r.counts ? ' with counts' : ''}`);
    if (total) parts.push(`total ${compact(total)}`);
  }
  if (r.coreset) parts.push('coreset');
  return `${r.name.padEnd(22)} ${parts.join(', ')} — ${r.citation.source}`;
}
