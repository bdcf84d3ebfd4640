/**
 * The recipe a mix actually follows: a recipe file with the flags that override it, or one built from
 * `--ratio` and the inputs' weights. It goes through the same schema as a file, is matched against the
 * sources the inputs hold, and is recorded verbatim in the manifest for the audit.
 */
import { UsageError } from '../errors.js';
import type { Kind } from '../records.js';
import { validateRecipe, type By, type Recipe, type ShortPolicy } from '../recipes/load.js';
import type { InputSource } from './inputs.js';
import type { PlanSource } from './plan.js';

export interface Overrides {
  by?: By;
  total?: number;
  onShort?: ShortPolicy;
  seed?: number | string;
  visualTokensPerImage?: number;
}

function applyOverrides(raw: Record<string, unknown>, o: Overrides): Record<string, unknown> {
  const out = { ...raw };
  if (o.by !== undefined) out.by = o.by;
  if (o.total !== undefined) out.total = o.total;
  if (o.onShort !== undefined) out.on_short = o.onShort;
  if (o.seed !== undefined) out.seed = o.seed;
  if (o.visualTokensPerImage !== undefined) out.visual_tokens_per_image = o.visualTokensPerImage;
  return out;
}

/** Refuses a recipe with no kinds (a coreset-only recipe): there is nothing to mix, or to audit a mixture against. */
export function requireMixKinds(recipe: Recipe): void {
  if (recipe.kinds.length === 0) throw new UsageError(`recipe ${recipe.file ?? recipe.name}: has no kinds to mix (a coreset-only recipe); use it with mmcurate coreset`);
}

/** The recipe file with flag overrides applied, validated again (so `--by tokens` on counts is refused). */
export function overrideRecipe(recipe: Recipe, o: Overrides): Recipe {
  const where = `${recipe.file ?? recipe.name} (with the flags given)`;
  return { ...validateRecipe(applyOverrides(recipe.raw, o), where), ...(recipe.file ? { file: recipe.file } : {}) };
}

/** A recipe from `--ratio` and the input weights: a kind whose inputs carry weights lists its sources. */
export function recipeFromFlags(ratios: ReadonlyMap<Kind, number>, sources: readonly InputSource[], o: Overrides): Recipe {
  const kinds: Record<string, unknown> = {};
  for (const [kind, ratio] of ratios) {
    const own = sources.filter((s) => s.kind === kind);
    const weighted = own.some((s) => s.weight !== undefined);
    kinds[kind] = weighted ? { ratio, sources: Object.fromEntries(own.map((s) => [s.name, { weight: s.weight ?? 1 }])) } : { ratio };
  }
  const raw = applyOverrides({ name: 'mix-flags', citation: { source: 'mmcurate mix command-line flags' }, kinds }, o);
  return validateRecipe(raw, '--ratio');
}

/**
 * A recipe kind that pools its sources, fed inputs with `:WEIGHT`s, gets those weights written in, so the
 * recipe recorded in the manifest (and checked by the audit) is the one that was followed.
 */
export function withInputWeights(recipe: Recipe, sources: readonly InputSource[]): Recipe {
  const kinds = { ...((recipe.raw.kinds as Record<string, Record<string, unknown>> | undefined) ?? {}) };
  let changed = false;
  for (const rk of recipe.kinds) {
    const own = sources.filter((s) => s.kind === rk.kind);
    if (rk.sources.length > 0 || !own.some((s) => s.weight !== undefined)) continue;
    kinds[rk.kind] = { ...kinds[rk.kind], sources: Object.fromEntries(own.map((s) => [s.name, { weight: s.weight ?? 1 }])) };
    changed = true;
  }
  if (!changed) return recipe;
  return { ...validateRecipe({ ...recipe.raw, kinds }, `${recipe.file ?? recipe.name} (with the input weights)`), ...(recipe.file ? { file: recipe.file } : {}) };
}

/**
 * Matches a recipe's named sources to the inputs' sources and returns the plan's sources (parallel to
 * `sources`). Every named source must be present, in its kind; an input source the recipe does not name,
 * in a kind where it names sources, is refused too.
 */
export function planSources(recipe: Recipe, sources: readonly InputSource[], fromFile: boolean): PlanSource[] {
  const where = fromFile ? `recipe ${recipe.file ?? recipe.name}` : 'the inputs';
  const have = (kind: Kind): string => {
    const names = sources.filter((s) => s.kind === kind).map((s) => s.name);
    return names.length ? names.join(', ') : 'none';
  };
  for (const rk of recipe.kinds) {
    for (const rs of rk.sources) {
      const found = sources.find((s) => s.name === rs.name);
      if (!found) {
        throw new UsageError(`${where} names source "${rs.name}" (${rk.kind}), but no --input holds it (the ${rk.kind} inputs hold: ${have(rk.kind)}); ingest it with --input ${rs.name}=PATH, or remove it from the recipe`);
      }
      if (found.kind !== rk.kind) throw new UsageError(`${where} lists source "${rs.name}" under ${rk.kind}, but it comes from a ${found.kind} input`);
    }
  }
  return sources.map((s) => {
    const rk = recipe.kinds.find((k) => k.kind === s.kind);
    const base = { kind: s.kind, name: s.name, available: 0 };
    if (!rk || rk.sources.length === 0) return s.weight !== undefined ? { ...base, weight: s.weight } : base;
    const rs = rk.sources.find((x) => x.name === s.name);
    if (!rs) {
      throw new UsageError(`source "${s.name}" (${s.kind} input) is not in ${where}'s ${s.kind} sources (${rk.sources.map((x) => x.name).join(', ')}); leave that input out or add the source to the recipe`);
    }
    if (fromFile && s.weight !== undefined && (rs.count !== undefined || rs.weight !== s.weight)) {
      throw new UsageError(`source "${s.name}": the input gives a weight (${s.weight}) but ${where} already sets its share; drop the :weight from --input`);
    }
    return { ...base, weight: rs.count ?? rs.weight ?? 1 };
  });
}
