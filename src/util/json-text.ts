/**
 * Values as JSON text for a metadata column. Bytes are left out (metadata is text; images travel in their own
 * column). An integer beyond 2^53 (LAION's INT64 `hash`) keeps every digit: JSON numbers have no size limit,
 * JavaScript's have, so it is written from its decimal string.
 */
const BIGINT = '\u0000bigint:';

export function jsonText(v: unknown): string {
  let big = false;
  const s = JSON.stringify(v, (_k, x) => {
    if (x instanceof Uint8Array) return undefined;
    if (typeof x !== 'bigint') return x;
    if (x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(x);
    big = true;
    return BIGINT + x.toString();
  });
  return big ? s.replace(/"\\u0000bigint:(-?\d+)"/g, '$1') : s;
}
