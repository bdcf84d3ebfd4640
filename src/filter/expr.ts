/**
 * `--where NAME="EXPR"`: a predicate over a record's columns and metadata fields, compiled by filtrex (a
 * kept, sandboxed expression compiler: no access to anything but the values we hand it, no loops). Dots
 * are field paths (`metadata.punsafe`, `image.width`), resolved by RecordView so "missing" means the same
 * here as in the built-in filters. A malformed expression is a usage error naming the --where and the
 * column, raised when the command line is read, before any data is.
 */
import { compileExpression } from 'filtrex';
import { UsageError } from '../errors.js';
import type { Filter, Outcome } from './predicate.js';
import { PASS } from './predicate.js';
import type { RecordView } from './view.js';

/** Functions an expression may call besides filtrex's own (abs, min, max, round, exists, empty...). */
const FUNCTIONS = {
  /** Characters of a string (code points), items of a list. */
  len: (s: unknown) => (typeof s === 'string' ? [...s].length : Array.isArray(s) ? s.length : NaN),
  /** Whitespace-separated words of a string. */
  words: (s: unknown) => (typeof s === 'string' ? s.split(/\s+/).filter(Boolean).length : NaN),
  lower: (s: unknown) => (typeof s === 'string' ? s.toLowerCase() : s),
};

/** Thrown by the property function for a missing field; filtrex returns (not throws) what a run raises. */
class MissingField extends Error {
  constructor(readonly field: string) {
    super(`missing field ${field}`);
  }
}

/** Names that can never be fields: a --where NAME must be usable in a reject reason. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** `NAME=EXPR` → its parts; the first `=` splits, so `a="x == 1"` keeps its own `==`. */
export function splitWhere(arg: string): { name: string; expr: string } {
  const eq = arg.indexOf('=');
  const name = eq > 0 ? arg.slice(0, eq).trim() : '';
  const expr = eq > 0 ? arg.slice(eq + 1).trim() : '';
  if (!name || !NAME.test(name) || !expr || arg[eq + 1] === '=') {
    throw new UsageError(`--where ${JSON.stringify(arg)}: expected NAME="EXPRESSION", e.g. --where safe="metadata.punsafe < 0.5" (NAME: letters, digits, _ . -)`);
  }
  return { name, expr };
}

/** Where filtrex's parser stopped: its message draws a caret under the column. */
function position(message: string): number | undefined {
  const caret = /\n(-*)\^/.exec(message);
  return caret ? caret[1]!.length + 1 : undefined;
}

export function compileWhere(arg: string): Filter {
  const { name, expr } = splitWhere(arg);
  const where = `--where ${name}="${expr}"`;
  // exists(x) and empty(x) ask about missing fields themselves: there a missing field is a value, not an outcome
  const asksMissing = /\b(exists|empty)\s*\(/.test(expr);
  let lastMissing: string | undefined;
  let fn: (data: unknown) => unknown;
  try {
    fn = compileExpression(expr, {
      extraFunctions: FUNCTIONS,
      customProp: (field: string, _get: unknown, data: unknown) => {
        const r = (data as RecordView).get(field);
        if (r.found) return r.value;
        lastMissing ??= field;
        if (asksMissing) return undefined;
        throw new MissingField(field);
      },
    }) as (data: unknown) => unknown;
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    const at = position(msg);
    const why = msg.split('\n').pop()!.replace(/^Expecting /, 'expected ');
    throw new UsageError(`${where}: not a valid expression${at ? ` at column ${at}` : ''}: ${why} (strings take double quotes, fields are bare or 'single-quoted'; see docs/filters.md)`);
  }
  probe(fn, where);
  return {
    name,
    spec: expr,
    reason: `filtered:${name}`,
    test(view: RecordView): Outcome {
      lastMissing = undefined;
      const r = fn(view);
      if (r === true) return PASS;
      if (r === false) return { pass: false, detail: `${expr} is false` };
      if (r instanceof MissingField) return { missing: r.field };
      if (r instanceof Error) return lastMissing && !asksMissing ? { missing: lastMissing } : { invalid: `${expr}: ${r.message}` };
      return { invalid: `${expr} gave ${JSON.stringify(r)}, not true or false` };
    },
  };
}

/**
 * Errors filtrex only raises when an expression runs (an unknown function, a bad regular expression) are
 * mistakes in the expression, not in the data: run it once on a record where every field is 0 and once
 * where every field is "", and refuse it before any work if either says so.
 */
function probe(fn: (data: unknown) => unknown, where: string): void {
  for (const value of [0, '']) {
    const fake = { get: () => ({ found: true, value }) } as unknown as RecordView;
    const r = fn(fake);
    if (!(r instanceof Error)) continue;
    const code = (r as { I18N_STRING?: string }).I18N_STRING;
    if (code === 'UNKNOWN_FUNCTION') throw new UsageError(`${where}: ${r.message.replace(/\(\)$/, '')} (functions: abs, ceil, floor, round, sqrt, log, min, max, exists, empty, ${Object.keys(FUNCTIONS).join(', ')})`);
    if (r instanceof SyntaxError) throw new UsageError(`${where}: ${r.message}`);
  }
}
