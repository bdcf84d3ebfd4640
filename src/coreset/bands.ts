/**
 * Exact rank bands over data larger than memory. Rows are ordered by value, descending (ties: lower
 * row index first), as `np.argsort(-v)` orders them in Bunny's scripts, and the band keeps positions
 * int(lo·n) ≤ p < int(hi·n). Two passes over (value, row) pairs: a 2^20-bin histogram of the value,
 * then only the rows in the two bins holding the band's edges are sorted. The result is a pair of
 * cut points, so membership of any row is then an O(1) test and needs no row list in memory.
 */
import { UsageError } from '../errors.js';

/** One streamed batch of (value, row) pairs; rows are unique global indices. */
export type PairVisitor = (values: ArrayLike<number>, rows: ArrayLike<number>, count: number) => void;
/** Calls `visit` for every batch of the population; called twice (two passes). */
export type PairSource = (visit: PairVisitor) => Promise<void>;

interface Point {
  value: number;
  row: number;
}

/** Comes-before in band order: larger value first, then smaller row. */
function before(v: number, r: number, p: Point): boolean {
  return v > p.value || (v === p.value && r < p.row);
}

export class BandCut {
  constructor(
    /** Population size and band positions [from, to). */
    readonly n: number,
    readonly from: number,
    readonly to: number,
    /** The row at position `from` (undefined when the band is empty or reaches past the end). */
    private readonly first: Point | undefined,
    /** The row at position `to` (undefined when the band runs to the end). */
    private readonly end: Point | undefined,
  ) {}

  get size(): number {
    return this.to - this.from;
  }

  /** Whether a member of the population (value, row) lies in the band. */
  contains(value: number, row: number): boolean {
    if (this.to <= this.from || !this.first) return false;
    if (before(value, row, this.first)) return false;
    return this.end === undefined || before(value, row, this.end);
  }

  toJSON(): unknown {
    return { n: this.n, from: this.from, to: this.to, first: this.first, end: this.end };
  }

  static fromJSON(j: { n: number; from: number; to: number; first?: Point; end?: Point }): BandCut {
    return new BandCut(j.n, j.from, j.to, j.first, j.end);
  }
}

/** A band in percent, e.g. "40-60". */
export interface Percent {
  lo: number;
  hi: number;
}

/** Parse "LO-HI" (percent, 0 ≤ LO < HI ≤ 100) or "none"; `what` names the flag or recipe key. */
export function parseBand(text: string, what: string): Percent | undefined {
  if (text === 'none') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!m) throw new UsageError(`${what} must be LO-HI in percent (e.g. 40-60) or none, got ${JSON.stringify(text)}`);
  return checkBand({ lo: Number(m[1]), hi: Number(m[2]) }, what);
}

export function checkBand(b: Percent, what: string): Percent {
  if (!(b.lo >= 0 && b.hi <= 100)) throw new UsageError(`${what} ${b.lo}-${b.hi} lies outside [0, 100]; percent ranks go from 0 to 100`);
  if (!(b.lo < b.hi)) throw new UsageError(`${what} ${b.lo}-${b.hi} is empty or inverted; expected LO < HI (e.g. 40-60)`);
  return b;
}

/** Positions [int(lo/100·n), int(hi/100·n)) as Python computes them (float product, truncation). */
export function bandPositions(n: number, b: Percent): [number, number] {
  return [Math.floor((b.lo / 100) * n), Math.floor((b.hi / 100) * n)];
}

/** Monotonic 20-bit bin of a value (through its float32 bits; larger value, larger bin). */
function binOf(v: number, f: Float32Array, u: Uint32Array): number {
  f[0] = v === 0 ? 0 : v; // -0 and +0 compare equal, so they must share a bin
  const bits = u[0];
  const key = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
  return key >>> 12;
}

const BINS = 1 << 20;

/**
 * Find the band of positions [from, to) (in band order) over the population `source` streams.
 * Values must be finite (NaN has no rank; callers reject such rows first).
 */
export async function findBand(source: PairSource, positions: (n: number) => [number, number]): Promise<BandCut> {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const hist = new Float64Array(BINS);
  let n = 0;
  await source((values, rows, count) => {
    for (let t = 0; t < count; t++) {
      const v = values[t];
      if (Number.isNaN(v)) throw new Error(`row ${rows[t]}: NaN value cannot be ranked`);
      hist[binOf(v, f, u)]++;
    }
    n += count;
  });
  const [from, to] = positions(n);
  if (to <= from) return new BandCut(n, from, Math.max(from, to), undefined, undefined);
  // Walk bins from the largest value down to find which bins hold positions `from` and `to`.
  const want = [from, to].filter((p) => p < n);
  const binAt = new Map<number, { bin: number; before: number }>();
  let seen = 0;
  for (let b = BINS - 1, w = 0; b >= 0 && w < want.length; b--) {
    const c = hist[b];
    while (w < want.length && want[w] < seen + c) binAt.set(want[w++], { bin: b, before: seen });
    seen += c;
  }
  const edgeBins = new Set([...binAt.values()].map((x) => x.bin));
  const collected = new Map<number, Point[]>();
  for (const b of edgeBins) collected.set(b, []);
  await source((values, rows, count) => {
    for (let t = 0; t < count; t++) {
      const list = collected.get(binOf(values[t], f, u));
      if (list) list.push({ value: values[t], row: rows[t] });
    }
  });
  for (const list of collected.values()) list.sort((a, b) => (a.value !== b.value ? b.value - a.value : a.row - b.row));
  const pointAt = (p: number): Point | undefined => {
    const at = binAt.get(p);
    return at ? collected.get(at.bin)![p - at.before] : undefined;
  };
  return new BandCut(n, from, to, pointAt(from), to < n ? pointAt(to) : undefined);
}

/**
 * A row's sampling key: a seeded hash in [0, 1). The seeded sample of `target` rows is the band of
 * the `target` largest keys, so it is exact, order-independent and out-of-core like the bands.
 */
export function sampleKey(seed: number, row: number): number {
  const lo = row >>> 0;
  const hi = Math.floor(row / 4294967296) >>> 0;
  let h1 = mix(lo ^ Math.imul(seed | 0, 0x9e3779b1));
  let h2 = mix(hi ^ h1 ^ 0x85ebca6b);
  h1 = mix(h1 ^ h2 ^ (seed >>> 0));
  h2 = mix(h2 + h1);
  return ((h1 >>> 5) * 67108864 + (h2 >>> 6)) / 9007199254740992;
}

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}
