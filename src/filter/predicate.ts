/**
 * A filter, whatever made it (a --where expression, a built-in flag, a text-quality rule): a name, the
 * reason a failing row is rejected with, and a test over one record. A test never throws for a row: a value
 * it needs and does not find is `missing` (the stage applies --on-missing), a value of the wrong type is
 * `invalid`.
 */
import type { RecordView } from './view.js';

export type Outcome =
  | { pass: true }
  | { pass: false; detail: string; reason?: string }
  | { missing: string }
  | { invalid: string };

export const PASS: Outcome = Object.freeze({ pass: true }) as Outcome;

export interface Filter {
  /** The filter's name: `safe` for `--where safe=...`, `min-size`, `gopher:mean_word_length`. */
  name: string;
  /** How it was asked for, for the manifest: the expression, the flag and its value, the rule's threshold. */
  spec: string;
  /** The reject reason of a failing row (`filtered:safe`, `gopher:mean_word_length`); an outcome may name another. */
  reason: string;
  test(view: RecordView): Outcome;
}

/** Per filter, what happened to the rows that reached it (rows rejected by an earlier filter never do). */
export interface FilterCount {
  name: string;
  spec: string;
  reason: string;
  /** Rows the filter looked at. */
  evaluated: number;
  passed: number;
  /** Rows rejected because they failed the test. */
  rejected: number;
  /** Rows where a field the filter needs was missing: rejected with --on-missing reject, passed on with keep. */
  missing: number;
  /** Rows rejected because a value had the wrong type (text where a number was needed). */
  invalid: number;
}

export function emptyCount(f: Filter): FilterCount {
  return { name: f.name, spec: f.spec, reason: f.reason, evaluated: 0, passed: 0, rejected: 0, missing: 0, invalid: 0 };
}

/** Sums per-task counts filter by filter (every task has the same filters in the same order). */
export function mergeCounts(all: FilterCount[][]): FilterCount[] {
  const out: FilterCount[] = [];
  for (const counts of all) {
    counts.forEach((c, i) => {
      const t = (out[i] ??= { ...c, evaluated: 0, passed: 0, rejected: 0, missing: 0, invalid: 0 });
      t.evaluated += c.evaluated;
      t.passed += c.passed;
      t.rejected += c.rejected;
      t.missing += c.missing;
      t.invalid += c.invalid;
    });
  }
  return out;
}
