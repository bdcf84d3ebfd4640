/**
 * Reads a dataset's shards themselves (not the manifest's claims) and measures them in one streaming
 * pass: rows and tokens per kind and per source, duplicate ids and duplicate content (sha256 of the texts
 * and image bytes), and score distributions. Memory per row is two 8-byte hashes and the scores.
 */
import { isRemote, join } from '../storage/location.js';
import { listSync, readTextSync } from '../storage/sync.js';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import { BATCH_ROWS } from '../mix/inputs.js';
import { imageCount, unified } from '../mix/unify.js';
import { sampleTokens, type TokenCounter } from '../mix/tokens.js';

export const SCORE_COLUMNS = ['clip_score', 'centroid_sim'] as const;
const READ_COLUMNS = ['id', 'kind', 'source', 'texts', 'images', 'text', 'image', ...SCORE_COLUMNS];

export interface Distribution {
  count: number;
  nulls: number;
  min: number;
  p05: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
  max: number;
  mean: number;
}

export interface KindStats {
  rows: number;
  tokens: number;
  /** The largest sample's tokens: the rounding a token budget cannot beat. */
  maxDocTokens: number;
  images: number;
}

export interface SourceStats {
  kind: string;
  rows: number;
  tokens: number;
}

export interface ScanStats {
  rows: number;
  shards: number;
  kinds: Record<string, KindStats>;
  sources: Record<string, SourceStats>;
  /** Rows whose id was already seen. */
  duplicateIds: number;
  /** Rows whose texts + image bytes were already seen. */
  duplicateContent: number;
  scores: Record<string, Distribution>;
  tokens: { method: string; visualTokensPerImage: number; total: number };
  /** Images referenced by path or URL only (no bytes in the shard). */
  imagesWithoutBytes: number;
  rejectsByReason: Record<string, number>;
  /** Shards that could not be read as Parquet (counted in nothing above). */
  unreadable: { path: string; error: string }[];
}

class Grow<T extends Float64Array | BigUint64Array> {
  length = 0;
  constructor(
    public data: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: T extends BigUint64Array ? bigint : number): void {
    if (this.length === this.data.length) {
      const d = this.make(this.data.length * 2);
      d.set(this.data as never);
      this.data = d;
    }
    (this.data as unknown as (typeof v)[])[this.length++] = v;
  }
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

/** Rows after the first of each equal value. */
function repeats(a: BigUint64Array): number {
  a.sort();
  let n = 0;
  for (let i = 1; i < a.length; i++) if (a[i] === a[i - 1]) n++;
  return n;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function distribution(values: Float64Array, nulls: number): Distribution {
  const s = values.slice().sort();
  let sum = 0;
  for (const v of s) sum += v;
  return {
    count: s.length,
    nulls,
    min: s.length ? s[0]! : NaN,
    p05: quantile(s, 0.05),
    p25: quantile(s, 0.25),
    p50: quantile(s, 0.5),
    p75: quantile(s, 0.75),
    p95: quantile(s, 0.95),
    max: s.length ? s[s.length - 1]! : NaN,
    mean: s.length ? sum / s.length : NaN,
  };
}

function idKey(id: string): bigint {
  const hex = /^[0-9a-f]{16}/i.test(id) ? id.slice(0, 16) : createHash('sha256').update(id).digest('hex').slice(0, 16);
  return BigInt(`0x${hex}`);
}

/** Counts reject lines by reason, from the files in rejects/ (not the manifest). */
export function countRejects(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const rd = path.join(dir, 'rejects');
  // through storage: the dataset may be a bucket prefix; files directly in rejects/, as before
  const base = isRemote(rd) ? join(rd) : rd;
  const names = listSync(rd).map((e) => e.loc.slice(base.length + 1)).filter((x) => x.endsWith('.jsonl') && !x.includes('/') && !x.includes(path.sep));
  for (const f of names.sort()) {
    for (const line of (readTextSync(path.join(rd, f)) ?? '').split('\n')) {
      if (!line.trim()) continue;
      let reason = 'unparseable_reject_line';
      try {
        const o = JSON.parse(line) as { reason?: unknown };
        if (typeof o.reason === 'string') reason = o.reason;
      } catch {
        /* counted under unparseable_reject_line */
      }
      out[reason] = (out[reason] ?? 0) + 1;
    }
  }
  return out;
}

/**
 * Scans the given shard files (paths relative to `dir`).
 * @example const s = await scanShards(dir, ['data/part-00000-00000.parquet'], estimateCounter(), 144)
 */
export async function scanShards(dir: string, shards: readonly string[], counter: TokenCounter, visualTokensPerImage: number): Promise<ScanStats> {
  const kinds: Record<string, KindStats> = {};
  const sources: Record<string, SourceStats> = {};
  const ids = new Grow(new BigUint64Array(1024), (n) => new BigUint64Array(n));
  const contents = new Grow(new BigUint64Array(1024), (n) => new BigUint64Array(n));
  const scores = new Map<string, { values: Grow<Float64Array>; nulls: number }>();
  let rows = 0;
  let tokensTotal = 0;
  let withoutBytes = 0;
  const unreadable: ScanStats['unreadable'] = [];
  for (const rel of shards) {
    let pf: Awaited<ReturnType<typeof openParquet>>;
    try {
      pf = await openParquet(path.join(dir, rel));
    } catch (err) {
      unreadable.push({ path: rel, error: errorMessage(err) });
      continue;
    }
    const columns = READ_COLUMNS.filter((c) => pf.columns.includes(c));
    const scoreCols = SCORE_COLUMNS.filter((c) => pf.columns.includes(c));
    for (const c of scoreCols) if (!scores.has(c)) scores.set(c, { values: new Grow(new Float64Array(1024), (n) => new Float64Array(n)), nulls: 0 });
    // a shard whose footer reads but whose pages do not (a flipped byte) is reported, not a crash
    const batches = async function* (): AsyncGenerator<Record<string, unknown>[]> {
      for (const g of pf.groups) for (const sl of slices(g, BATCH_ROWS)) yield await readRowGroup(pf, sl, columns);
    };
    try {
      for await (const batch of batches()) {
        for (const row of batch) {
          rows++;
          const u = unified(row);
          const nImages = imageCount(u);
          const tokens = sampleTokens(u.texts, nImages, counter, visualTokensPerImage);
          tokensTotal += tokens;
          const k = (kinds[u.kind] ??= { rows: 0, tokens: 0, maxDocTokens: 0, images: 0 });
          k.rows++;
          k.tokens += tokens;
          k.images += nImages;
          if (tokens > k.maxDocTokens) k.maxDocTokens = tokens;
          const s = (sources[u.source] ??= { kind: u.kind, rows: 0, tokens: 0 });
          if (s.kind !== u.kind && !s.kind.split('+').includes(u.kind)) s.kind = `${s.kind}+${u.kind}`;
          s.rows++;
          s.tokens += tokens;
          ids.push(idKey(u.id));
          const h = createHash('sha256');
          for (const t of u.texts) h.update(t === null ? '\x00N' : `\x00T${t}`);
          for (const im of u.images) {
            if (!im) h.update('\x00N');
            else if (im.bytes) h.update('\x00B').update(im.bytes);
            else {
              withoutBytes++;
              h.update(`\x00P${im.path ?? ''}`);
            }
          }
          contents.push(h.digest().readBigUInt64BE(0));
          for (const c of scoreCols) {
            const v = row[c];
            const acc = scores.get(c)!;
            if (typeof v === 'number' && Number.isFinite(v)) acc.values.push(v);
            else acc.nulls++;
          }
        }
      }
    } catch (err) {
      unreadable.push({ path: rel, error: errorMessage(err) });
    }
  }
  const dist: Record<string, Distribution> = {};
  for (const [c, acc] of scores) dist[c] = distribution(acc.values.view(), acc.nulls);
  return {
    rows,
    shards: shards.length - unreadable.length,
    kinds,
    sources,
    duplicateIds: repeats(ids.view()),
    duplicateContent: repeats(contents.view()),
    scores: dist,
    tokens: { method: counter.method, visualTokensPerImage, total: tokensTotal },
    imagesWithoutBytes: withoutBytes,
    rejectsByReason: countRejects(dir),
    unreadable,
  };
}
