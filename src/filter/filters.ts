/**
 * The filters of a run, from the plan's spec, in the order they run: built-in checks of columns first, then
 * the --where expressions in the order given, then the language, then the text-quality rules (the costly
 * ones see only the rows the cheap ones kept).
 */
import { builtinFilters, type BuiltinSpec } from './builtins.js';
import { compileWhere } from './expr.js';
import type { Filter } from './predicate.js';
import type { Kind } from '../records.js';
import { c4Rules, gopherQuality, gopherRepetition } from './text-quality.js';

export interface FilterSet {
  /** `NAME=EXPR`, as given. */
  where: string[];
  builtins: BuiltinSpec;
  /** Text-quality rule sets (text-quality.ts). */
  text?: { gopherQuality?: boolean; gopherRepetition?: boolean; c4?: boolean };
}

export async function buildFilters(set: FilterSet, kind: Kind): Promise<Filter[]> {
  const { early, late } = await builtinFilters(set.builtins);
  const t = set.text ?? {};
  const text = [...(t.gopherQuality ? gopherQuality() : []), ...(t.gopherRepetition ? gopherRepetition() : []), ...(t.c4 ? c4Rules(kind === 'text') : [])];
  return [...early, ...set.where.map(compileWhere), ...late, ...text];
}
