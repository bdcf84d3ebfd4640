/**
 * One streaming pass over a dataset's shards, reading only the columns the report needs (never the
 * embeddings): score and length counts, image formats and sizes, tokens per kind, and the seeded samples
 * (highest, lowest, random by clip_score), whose image bytes are copied out of the decoded batch. Memory:
 * one batch of rows, the counts (bounded by distinct rounded values) and 3 × n samples.
 */
import path from 'node:path';
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import { imageCount, unified } from '../mix/unify.js';
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
  sizes: Map<string, number>;
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
    const file = path.join(dir, rel);
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

function one(s: ShardScan, row: Record<string, unknown>, o: { seed: number; counter: TokenCounter; visual: number }): void {
  s.rows++;
  const u = unified(row);
  const nImages = imageCount(u);
  const kind = u.kind || 'unknown';
  const t = (s.tokens[kind] ??= { rows: 0, tokens: 0 });
  t.rows++;
  t.tokens += sampleTokens(u.texts, nImages, o.counter, o.visual);
  let chars = 0;
  for (const x of u.texts) if (typeof x === 'string') chars += x.length;
  s.lengths.add(chars <= 1000 ? chars : round2(chars), kind);
  const score = typeof row.clip_score === 'number' && Number.isFinite(row.clip_score) ? row.clip_score : null;
  for (const c of ['clip_score', 'centroid_sim']) {
    const v = row[c];
    if (typeof v === 'number' && Number.isFinite(v)) {
      let m = s.scores.get(c);
      if (!m) s.scores.set(c, (m = new CountMap()));
      m.add(Math.round(v * 1000) / 1000, 'kept');
    }
  }
  if (typeof row.cluster_id === 'number') s.clusters.set(row.cluster_id, (s.clusters.get(row.cluster_id) ?? 0) + 1);
  let bytes: Uint8Array | null = null;
  for (const im of u.images) {
    if (!im) continue;
    if (im.bytes && im.bytes.length) {
      s.withBytes++;
      bytes ??= im.bytes;
    } else if (im.path) s.withoutBytes++;
  }
  if (typeof row.image_format === 'string') s.formats[row.image_format] = (s.formats[row.image_format] ?? 0) + 1;
  if (typeof row.width === 'number' && typeof row.height === 'number') {
    const key = `${round2(row.width)}x${round2(row.height)}`;
    s.sizes.set(key, (s.sizes.get(key) ?? 0) + 1);
  }
  // samples: built only when a list wants the row (copies the image bytes out of the batch)
  const key = u.id;
  const pick = (): Picked => ({ id: u.id, source: u.source, kind, caption: captionOf(u.texts), clip_score: score, bytes: bytes ? bytes.slice() : null });
  if (score !== null) {
    if (s.highest.wants(-score, key)) s.highest.offer(-score, key, pick());
    if (s.lowest.wants(score, key)) s.lowest.offer(score, key, pick());
  }
  const r = rankOf(o.seed, key);
  if (s.random.wants(r, key)) s.random.offer(r, key, pick());
}
