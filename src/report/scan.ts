/**
 * One streaming pass over a dataset's shards, reading only the columns the report needs (never the
 * embeddings): score and length counts, image formats and sizes, tokens per kind, and the seeded samples
 * (highest, lowest, random by clip_score), whose image bytes are copied out of the decoded batch. Memory:
 * one batch of rows, the counts (bounded by distinct rounded values) and 3 × n samples.
 */
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import { join } from '../storage/location.js';
import { unified } from '../mix/unify.js';
import type { Image } from '../records.js';
import { sampleTokens, type TokenCounter } from '../mix/tokens.js';
import { errorMessage, RunError } from '../errors.js';
import { Lowest, rankOf } from './sample.js';
import { CountMap } from './counts.js';

const COLUMNS = ['id', 'kind', 'source', 'text', 'texts', 'image', 'images', 'image_format', 'width', 'height', 'clip_score', 'centroid_sim', 'cluster_id'];
/** Rows per read: bounded memory whatever the row groups (image bytes included). */
const BATCH = 4096;

export interface Picked {
  id: string;
  source: string;
  kind: string;
  caption: string;
  clip_score: number | null;
  bytes: Uint8Array | null;
}

export interface ShardScan {
  rows: number;
  scores: Map<string, CountMap>;
  lengths: CountMap;
  formats: Record<string, number>;
  /** (width rounded) × 1e7 + (height rounded) → images. */
  sizes: Map<number, number>;
  scoreCounts(column: string): CountMap;
  withBytes: number;
  withoutBytes: number;
  tokens: Record<string, { rows: number; tokens: number }>;
  /** Rows per cluster_id (coreset outputs). */
  clusters: Map<number, number>;
  highest: Lowest<Picked>;
  lowest: Lowest<Picked>;
  random: Lowest<Picked>;
  hasScore: boolean;
  hasImages: boolean;
}

/** 2 significant digits: bounds the distinct values a count map holds. */
export function round2(x: number): number {
  if (x < 100) return Math.round(x);
  const p = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Math.round(x / p) * p;
}

export function captionOf(texts: (string | null)[]): string {
  const t = texts.filter((x): x is string => typeof x === 'string').join(' ');
  return t.length > 300 ? `${t.slice(0, 299)}…` : t;
}

export async function scanShards(dir: string, shards: string[], o: { samples: number; seed: number; counter: TokenCounter; visual: number }): Promise<ShardScan> {
  const s: ShardScan = {
    rows: 0,
    scores: new Map(),
    lengths: new CountMap(),
    formats: {},
    sizes: new Map(),
    scoreCounts(column: string): CountMap {
      let m = this.scores.get(column);
      if (!m) this.scores.set(column, (m = new CountMap()));
      return m;
    },
    withBytes: 0,
    withoutBytes: 0,
    tokens: {},
    clusters: new Map(),
    highest: new Lowest(o.samples),
    lowest: new Lowest(o.samples),
    random: new Lowest(o.samples),
    hasScore: false,
    hasImages: false,
  };
  for (const rel of shards) {
    const file = join(dir, rel);
    let pf: Awaited<ReturnType<typeof openParquet>>;
    try {
      pf = await openParquet(file);
    } catch (err) {
      throw new RunError(`${file}: not a readable Parquet file (${errorMessage(err)}); run \`mmcurate audit ${dir}\` to check the dataset`);
    }
    const cols = COLUMNS.filter((c) => pf.columns.includes(c));
    if (cols.includes('clip_score')) s.hasScore = true;
    if (cols.includes('image') || cols.includes('images')) s.hasImages = true;
    for (const g of pf.groups) {
      for (const sl of slices(g, BATCH)) {
        const rows = await readRowGroup(pf, sl, cols);
        for (const row of rows) one(s, row, o);
      }
    }
  }
  return s;
}

/** The texts and images of a row: caption rows (the bulk of a large set) without building objects. */
function partsOf(row: Record<string, unknown>, scratch: { texts: (string | null)[]; images: (Image | null)[] }): { texts: (string | null)[]; images: (Image | null)[] } {
  if (!Array.isArray(row.texts) && 'image' in row) {
    scratch.texts[0] = null;
    scratch.texts[1] = typeof row.text === 'string' ? row.text : null;
    const im = row.image as { bytes?: unknown; path?: unknown } | null;
    scratch.images[0] = im && typeof im === 'object' ? { bytes: im.bytes instanceof Uint8Array ? im.bytes : null, path: typeof im.path === 'string' ? im.path : null } : null;
    scratch.images[1] = null;
    return scratch;
  }
  return unified(row);
}

const SCRATCH = { texts: [null, null] as (string | null)[], images: [null, null] as (Image | null)[] };

function one(s: ShardScan, row: Record<string, unknown>, o: { seed: number; counter: TokenCounter; visual: number }): void {
  s.rows++;
  const u = partsOf(row, SCRATCH);
  const id = String(row.id ?? '');
  const kind = typeof row.kind === 'string' && row.kind ? row.kind : 'unknown';
  let nImages = 0;
  let bytes: Uint8Array | null = null;
  for (const im of u.images) {
    if (!im) continue;
    if (im.bytes && im.bytes.length) {
      s.withBytes++;
      nImages++;
      bytes ??= im.bytes;
    } else if (im.path) {
      s.withoutBytes++;
      nImages++;
    }
  }
  const t = (s.tokens[kind] ??= { rows: 0, tokens: 0 });
  t.rows++;
  t.tokens += sampleTokens(u.texts, nImages, o.counter, o.visual);
  let chars = 0;
  for (const x of u.texts) if (typeof x === 'string') chars += x.length;
  s.lengths.add(chars <= 1000 ? chars : round2(chars), kind);
  const score = typeof row.clip_score === 'number' && Number.isFinite(row.clip_score) ? row.clip_score : null;
  if (score !== null) s.scoreCounts('clip_score').add(Math.round(score * 1000) / 1000, 'kept');
  if (typeof row.centroid_sim === 'number' && Number.isFinite(row.centroid_sim)) s.scoreCounts('centroid_sim').add(Math.round(row.centroid_sim * 1000) / 1000, 'kept');
  if (typeof row.cluster_id === 'number') s.clusters.set(row.cluster_id, (s.clusters.get(row.cluster_id) ?? 0) + 1);
  if (typeof row.image_format === 'string') s.formats[row.image_format] = (s.formats[row.image_format] ?? 0) + 1;
  if (typeof row.width === 'number' && typeof row.height === 'number') {
    // one number per (width, height) pair, both rounded to 2 significant digits
    const key = round2(row.width) * 1e7 + round2(row.height);
    s.sizes.set(key, (s.sizes.get(key) ?? 0) + 1);
  }
  // samples: a row is built only when a list wants it (its image bytes copied out of the batch)
  const r = rankOf(o.seed, id);
  const wantsHigh = score !== null && s.highest.wants(-score, id);
  const wantsLow = score !== null && s.lowest.wants(score, id);
  const wantsRandom = s.random.wants(r, id);
  if (!wantsHigh && !wantsLow && !wantsRandom) return;
  const p: Picked = { id, source: String(row.source ?? ''), kind, caption: captionOf(u.texts), clip_score: score, bytes: bytes ? bytes.slice() : null };
  if (wantsHigh) s.highest.offer(-score!, id, p);
  if (wantsLow) s.lowest.offer(score!, id, p);
  if (wantsRandom) s.random.offer(r, id, p);
}
