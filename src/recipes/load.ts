/**
 * Recipe files: read, validated against schemas/recipe.schema.json, then normalised into the one shape the
 * planner and the audit use (ratios per kind, weights or counts per source). A file that is wrong is
 * refused with the JSON pointer of the bad key, what was expected and what came.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import { UsageError } from '../errors.js';
import { KINDS, type Kind } from '../records.js';
import { PACKAGE_ROOT, loadSchema } from '../schemas.js';

const Ajv = AjvModule as unknown as typeof AjvModule.default;

export const PIPELINES_DIR = path.join(PACKAGE_ROOT, 'pipelines');

export type By = 'samples' | 'tokens';
export type ShortPolicy = 'shrink' | 'upsample' | 'error';
export const SHORT_POLICIES: readonly ShortPolicy[] = ['shrink', 'upsample', 'error'];
export const DEFAULT_VISUAL_TOKENS = 144;

export interface RecipeSource {
  name: string;
  /** Share inside the kind, relative to the kind's other weights. */
  weight?: number;
  /** Exact samples (then every source of the recipe has one). */
  count?: number;
  /** Response-format prompts; one is chosen per sample when several. */
  prompts?: string[];
}

export interface RecipeKind {
  kind: Kind;
  /** As written, or the sum of the sources' counts. */
  ratio: number;
  /** Empty: any source of that kind, pooled. */
  sources: RecipeSource[];
}

export interface Citation {
  source: string;
  url?: string;
  section?: string;
  note?: string;
}

export interface Recipe {
  name: string;
  description?: string;
  citation: Citation;
  by: By;
  visualTokensPerImage: number;
  onShort: ShortPolicy;
  total?: number;
  seed?: number | string;
  /** The kinds with their ratios, in the canonical order caption, interleaved, text. */
  kinds: RecipeKind[];
  /** True when every source has an exact count; the default total is then their sum. */
  counts: boolean;
  coreset?: Record<string, unknown>;
  /** The file it came from, when it came from one. */
  file?: string;
  /** The JSON as written, recorded verbatim in the mixture's manifest. */
  raw: Record<string, unknown>;
}

let compiled: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (compiled) return compiled;
  // verbose: errors carry the schema they failed, so a message can list the keys that are allowed.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
  compiled = ajv.compile(loadSchema('recipe.schema.json'));
  return compiled;
}

function at(data: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], data);
}

function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** One readable line per schema error: the pointer, what was expected, what came. */
function describe(e: ErrorObject, data: unknown): string | undefined {
  const where = e.instancePath || '/';
  const got = shown(at(data, e.instancePath));
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const key = String(p.additionalProperty);
      return `${e.instancePath}/${key}: unknown key "${key}"; expected one of: ${allowed.join(', ')}`;
    }
    case 'propertyNames': {
      const name = String(p.propertyName);
      const inner = e.schema as { enum?: string[]; pattern?: string };
      const expected = inner.enum ? `one of ${inner.enum.join(', ')}` : `a name without '=', ':', ',' or spaces`;
      return `${e.instancePath}/${name}: unknown name "${name}"; expected ${expected}`;
    }
    case 'required':
      return `${e.instancePath}/${String(p.missingProperty)}: missing; it is required`;
    case 'anyOf':
      if (e.instancePath === '') return `/: expected a "kinds" object (a mixture) or a "coreset" section, got neither`;
      return `${where}: expected ${e.message ?? 'another value'}, got ${got}`;
    case 'oneOf':
      return `${where}: expected a string or a non-empty list of strings, got ${got}`;
    case 'enum':
      return `${where}: expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
    case 'type':
      return `${where}: expected ${String(p.type)}, got ${got}`;
    case 'minimum':
    case 'exclusiveMinimum':
      return `${where}: expected a number ${String(p.comparison)} ${String(p.limit)}, got ${got}`;
    case 'minProperties':
      return `${where}: expected at least ${String(p.limit)} entr${p.limit === 1 ? 'y' : 'ies'}, got ${got}`;
    default:
      return `${where}: ${e.message ?? 'invalid'}, got ${got}`;
  }
}

function fail(where: string, message: string): never {
  throw new UsageError(`recipe ${where}: ${message}`);
}

/**
 * Validates a parsed recipe and normalises it. `where` names it in errors (its file, or "from flags").
 * @example validateRecipe(JSON.parse(text), 'pipelines/mm1-pretrain.json')
 */
export function validateRecipe(data: unknown, where: string): Recipe {
  const validate = schemaValidator();
  if (!validate(data)) {
    // Errors inside a propertyNames/oneOf repeat what the outer error says; keep the outer one.
    const errs = (validate.errors ?? []).filter((e) => !/\/(propertyNames|oneOf)\/./.test(e.schemaPath));
    const lines = [...new Set(errs.map((e) => describe(e, data)).filter((x): x is string => !!x))];
    fail(where, lines.slice(0, 6).join('; '));
  }
  const raw = data as Record<string, unknown> & {
    name: string;
    description?: string;
    citation: Citation;
    by?: By;
    visual_tokens_per_image?: number;
    on_short?: ShortPolicy;
    total?: number;
    seed?: number | string;
    kinds?: Record<string, { ratio?: number; sources?: Record<string, { weight?: number; count?: number; prompt?: string | string[] }> }>;
    coreset?: Record<string, unknown>;
  };
  const by = raw.by ?? 'samples';
  const entries = KINDS.filter((k) => raw.kinds?.[k]).map((k) => [k, raw.kinds![k]!] as const);
  const allSources = entries.flatMap(([k, v]) => Object.entries(v.sources ?? {}).map(([n, s]) => ({ k, n, s })));
  const counted = allSources.filter((x) => x.s.count !== undefined);
  const counts = counted.length > 0;
  if (counts) {
    const uncounted = allSources.find((x) => x.s.count === undefined);
    if (uncounted) fail(where, `/kinds/${uncounted.k}/sources/${uncounted.n}/count: missing; when one source has a count, every source needs one (found one at /kinds/${counted[0]!.k}/sources/${counted[0]!.n})`);
    const withWeight = allSources.find((x) => x.s.weight !== undefined);
    if (withWeight) fail(where, `/kinds/${withWeight.k}/sources/${withWeight.n}/weight: give a count or a weight, not both; with counts the shares follow from the counts`);
    if (by === 'tokens') fail(where, `/by: counts are samples; "by": "tokens" cannot be combined with per-source counts`);
    const noSources = entries.find(([, v]) => !v.sources);
    if (noSources) fail(where, `/kinds/${noSources[0]}/sources: missing; with counts, every kind lists its sources`);
  }
  const kinds: RecipeKind[] = entries.map(([kind, v]) => {
    const sources: RecipeSource[] = Object.entries(v.sources ?? {}).map(([name, s]) => ({
      name,
      ...(s.weight !== undefined ? { weight: s.weight } : {}),
      ...(s.count !== undefined ? { count: s.count } : {}),
      ...(s.prompt !== undefined ? { prompts: Array.isArray(s.prompt) ? s.prompt : [s.prompt] } : {}),
    }));
    let ratio = v.ratio;
    if (counts) {
      const sum = sources.reduce((a, s) => a + s.count!, 0);
      if (ratio !== undefined) fail(where, `/kinds/${kind}/ratio: not allowed with counts; the kind's share is the sum of its sources' counts (${sum})`);
      ratio = sum;
    }
    if (ratio === undefined) fail(where, `/kinds/${kind}/ratio: missing; give the kind a ratio (or every source a count)`);
    return { kind, ratio, sources };
  });
  if (kinds.length > 0 && kinds.every((k) => k.ratio === 0)) fail(where, `/kinds: every ratio is 0; at least one kind needs a positive ratio`);
  const seen = new Map<string, Kind>();
  for (const k of kinds) {
    for (const s of k.sources) {
      const other = seen.get(s.name);
      if (other) fail(where, `/kinds/${k.kind}/sources/${s.name}: source "${s.name}" is also listed under /kinds/${other}; a source belongs to one kind`);
      seen.set(s.name, k.kind);
    }
  }
  return {
    name: raw.name,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    citation: raw.citation,
    by,
    visualTokensPerImage: raw.visual_tokens_per_image ?? DEFAULT_VISUAL_TOKENS,
    onShort: raw.on_short ?? 'shrink',
    ...(raw.total !== undefined ? { total: raw.total } : {}),
    ...(raw.seed !== undefined ? { seed: raw.seed } : {}),
    kinds,
    counts,
    ...(raw.coreset !== undefined ? { coreset: raw.coreset } : {}),
    raw,
  };
}

/** A path, or the name of a recipe in pipelines/ (`mm1-pretrain` finds pipelines/mm1-pretrain.json). */
export function resolveRecipePath(ref: string): string {
  if (existsSync(ref)) return ref;
  const named = path.join(PIPELINES_DIR, ref.endsWith('.json') ? ref : `${ref}.json`);
  if (!ref.includes('/') && existsSync(named)) return named;
  throw new UsageError(`--recipe ${ref}: no such file, and no recipe of that name in ${PIPELINES_DIR}; run \`mmcurate recipes\` to list them`);
}

/** Reads, parses and validates a recipe file (or a recipe by name). */
export function loadRecipe(ref: string): Recipe {
  const file = resolveRecipePath(ref);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`recipe ${file}: not readable JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  return { ...validateRecipe(data, file), file };
}

/** Ratios normalised to sum to 1, in recipe kind order. */
export function normalisedRatios(recipe: Pick<Recipe, 'kinds'>): Map<Kind, number> {
  const sum = recipe.kinds.reduce((a, k) => a + k.ratio, 0);
  return new Map(recipe.kinds.map((k) => [k.kind, sum > 0 ? k.ratio / sum : 0]));
}
