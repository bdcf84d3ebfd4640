/**
 * The filters of a run, from the plan's spec, in the order they run: built-in checks of columns first, then
 * the --where expressions in the order given, then the language, then the text-quality rules (the costly
 * ones see only the rows the cheap ones kept).
 */
import { builtinFilters, type BuiltinSpec } from './builtins.js';
import { compileWhere } from './expr.js';
import type { Filter } from './predicate.js';

export interface FilterSet {
  /** `NAME=EXPR`, as given. */
  where: string[];
  builtins: BuiltinSpec;
}

export async function buildFilters(set: FilterSet): Promise<Filter[]> {
  const { early, late } = await builtinFilters(set.builtins);
  return [...early, ...set.where.map(compileWhere), ...late];
}
