/**
 * How deeply an input record may nest. Metadata is re-serialised at ingest (JSON.stringify, recursive in V8:
 * it overflows the stack near 4,000 levels on the main thread) and read back by consumers whose JSON parsers
 * recurse too (Python's `json` gives up near 1,000). 512 levels keeps every kept record readable by both, with
 * room to spare, and is far beyond anything real: LAION, COYO and OBELICS records nest 2 or 3 levels.
 * A record nested deeper is rejected as `too_deep`.
 */
export const MAX_DEPTH = 512;

/**
 * Whether `value` nests more than `limit` levels (a scalar is level 0, a flat object level 1). Iterative: a
 * recursive walk would overflow on exactly the input it guards against. Bytes are leaves.
 */
export function nestsDeeperThan(value: unknown, limit = MAX_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: object[] = [value];
  const depths: number[] = [1];
  while (stack.length) {
    const v = stack.pop()!;
    const d = depths.pop()!;
    if (d > limit) return true;
    if (ArrayBuffer.isView(v)) continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c: unknown = v[i];
        if (c !== null && typeof c === 'object') {
          stack.push(c);
          depths.push(d + 1);
        }
      }
    } else {
      for (const k in v) {
        const c: unknown = (v as Record<string, unknown>)[k];
        if (c !== null && typeof c === 'object') {
          stack.push(c);
          depths.push(d + 1);
        }
      }
    }
  }
  return false;
}

/**
 * A line shorter than this cannot nest deeper than MAX_DEPTH (each level takes two brackets): the common
 * case skips the walk.
 */
export const SHALLOW_CHARS = 2 * MAX_DEPTH;

export function tooDeepDetail(what: string): string {
  return `${what} nests more than ${MAX_DEPTH} levels deep (the limit keeps every record readable by JSON parsers that recurse, such as Python's json)`;
}

/** V8's stack overflow, as thrown by a recursive built-in such as JSON.stringify. */
export function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}
