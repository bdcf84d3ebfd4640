/**
 * Where the coreset's embeddings come from, described as plain JSON (tasks may run in worker threads
 * or on other machines) and read back in chunks:
 *
 * - the clip-retrieval / LAION layout: `img_emb/img_emb_{i}.npy`, `text_emb/text_emb_{i}.npy`
 *   (float16 or float32), optional `metadata/metadata_{i}.parquet`, row-aligned part by part;
 *   clip_score is the cosine of the image and text embeddings, as Bunny computed it;
 * - an mmcurate dataset written by `mmcurate score` (columns id, image_embedding, clip_score).
 */
import { isRemote, join, resolve } from '../storage/location.js';
import { existsSync as storageExists, listSync } from '../storage/sync.js';
import { readdirSync, existsSync } from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { openDataset } from '../io/dataset.js';
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import { NpyReader, readNpyHeader, type NpyArray, type NpyDtype } from '../util/npy.js';

export interface PartSpec {
  /** File the rows are named after in errors and ids (the img_emb part, or the shard). */
  name: string;
  rows: number;
  /** Global index of the part's first row. */
  base: number;
  img?: string;
  text?: string;
  meta?: string;
  shard?: string;
}

export interface SourceSpec {
  layout: 'laion' | 'dataset';
  dir: string;
  /** The `source` name recorded for these rows (rejects, ids). */
  source: string;
  dim: number;
  dtype: NpyDtype;
  /** Whether rows come with a clip_score (text embeddings or a clip_score column). */
  scores: boolean;
  parts: PartSpec[];
  total: number;
}

/** A chunk of rows. Its arrays are reused for the next chunk: copy what must outlive it. */
export interface Chunk {
  /** Global index of the chunk's first row. */
  base: number;
  rows: number;
  /** Image embeddings as stored (float16 bits or float32), rows x dim. */
  emb: NpyArray;
  /** LAION layout: text embeddings, for the clip score. */
  text?: NpyArray;
  /** Dataset layout: clip_score column (NaN where null). */
  score?: Float64Array;
  /** Dataset layout: id column. */
  ids?: string[];
}

function numbered(dir: string, prefix: string, ext: string): Map<number, string> {
  const m = new Map<number, string>();
  // a bucket prefix is listed through storage (one listing; files directly under it)
  const names = isRemote(dir)
    ? listSync(dir).map((e) => e.loc.slice(join(dir).length + 1)).filter((n) => !n.includes('/'))
    : existsSync(dir)
      ? readdirSync(dir)
      : [];
  for (const f of names) {
    if (!f.endsWith(ext)) continue;
    const num = /(\d+)$/.exec(f.slice(0, -ext.length))?.[1];
    if (!f.startsWith(prefix) || num === undefined) continue;
    m.set(Number(num), path.join(dir, f));
  }
  return m;
}

/** Recognise and validate the input folder (either layout). */
export async function describeInput(dir: string): Promise<SourceSpec> {
  if (storageExists(path.join(dir, 'manifest.json'))) return describeDataset(dir);
  if (isRemote(dir) ? listSync(path.join(dir, 'img_emb')).length > 0 : existsSync(path.join(dir, 'img_emb'))) return describeLaion(dir);
  throw new UsageError(`--input ${dir}: neither an mmcurate dataset (manifest.json) nor the clip-retrieval layout (img_emb/*.npy); run \`mmcurate score\` first or point at an embeddings folder`);
}

export async function describeLaion(dir: string): Promise<SourceSpec> {
  const img = numbered(path.join(dir, 'img_emb'), 'img_emb', '.npy');
  const txt = numbered(path.join(dir, 'text_emb'), 'text_emb', '.npy');
  const meta = numbered(path.join(dir, 'metadata'), 'metadata', '.parquet');
  if (img.size === 0) throw new UsageError(`--input ${dir}: no img_emb/img_emb_N.npy files`);
  const nums = [...img.keys()].sort((a, b) => a - b);
  const parts: PartSpec[] = [];
  let dim = -1;
  let dtype: NpyDtype | undefined;
  let base = 0;
  for (const i of nums) {
    const h = await readNpyHeader(img.get(i)!);
    if (dim < 0) [dim, dtype] = [h.cols, h.dtype];
    if (h.cols !== dim) throw new UsageError(`${h.path} has dimension ${h.cols} but ${img.get(nums[0])} has ${dim}; every embedding file must have the same dimension`);
    if (h.dtype !== dtype) throw new UsageError(`${h.path} is ${h.dtype} but ${img.get(nums[0])} is ${dtype}; convert the parts to one dtype`);
    const part: PartSpec = { name: path.basename(h.path), rows: h.rows, base, img: h.path };
    if (txt.size > 0) {
      const t = txt.get(i);
      if (!t) throw new UsageError(`${h.path} has no matching text_emb/text_emb_${i}.npy; the parts must be row-aligned`);
      const th = await readNpyHeader(t);
      if (th.rows !== h.rows) throw new UsageError(`${t} has ${th.rows} rows but ${h.path} has ${h.rows}; image and text parts must be row-aligned`);
      if (th.cols !== dim) throw new UsageError(`${t} has dimension ${th.cols} but the image embeddings have ${dim}`);
      if (th.dtype !== dtype) throw new UsageError(`${t} is ${th.dtype} but ${h.path} is ${dtype}; convert the parts to one dtype`);
      part.text = t;
    }
    if (meta.size > 0) {
      const m = meta.get(i);
      if (!m) throw new UsageError(`${h.path} has no matching metadata/metadata_${i}.parquet`);
      const pf = await openParquet(m);
      if (pf.rows !== h.rows) throw new UsageError(`${m} has ${pf.rows} rows but ${h.path} has ${h.rows} embeddings; metadata and embeddings must be row-aligned`);
      part.meta = m;
    }
    parts.push(part);
    base += h.rows;
  }
  for (const i of txt.keys()) if (!img.has(i)) throw new UsageError(`${txt.get(i)} has no matching img_emb/img_emb_${i}.npy`);
  return { layout: 'laion', dir, source: path.basename(resolve(dir)), dim, dtype: dtype!, scores: txt.size > 0, parts, total: base };
}

export async function describeDataset(dir: string): Promise<SourceSpec> {
  const ds = openDataset(dir);
  const parts: PartSpec[] = [];
  let dim = -1;
  let base = 0;
  let scores = true;
  for (const p of ds.shardPaths) {
    const pf = await openParquet(p);
    if (!pf.columns.includes('image_embedding')) {
      throw new UsageError(`${p} has no image_embedding column; run \`mmcurate score\` on the dataset first (the coreset clusters CLIP image embeddings)`);
    }
    if (!pf.columns.includes('clip_score')) scores = false;
    let d = -1;
    try {
      d = Number((JSON.parse(pf.kv.mmcurate ?? '{}') as { embedding_dim?: number }).embedding_dim ?? -1);
    } catch {
      /* reported below */
    }
    if (!(d > 0)) throw new UsageError(`${p}: the Parquet key-value metadata 'mmcurate' has no embedding_dim; the file was not written by \`mmcurate score\``);
    if (dim < 0) dim = d;
    if (d !== dim) throw new UsageError(`${p} has embedding_dim ${d} but ${ds.shardPaths[0]} has ${dim}; score every shard with the same model`);
    parts.push({ name: path.relative(dir, p), rows: pf.rows, base, shard: p });
    base += pf.rows;
  }
  return { layout: 'dataset', dir, source: path.basename(resolve(dir)), dim: Math.max(dim, 0), dtype: 'float16', scores, parts, total: base };
}

/** Stream one part in chunks of at most `chunkRows` rows. */
export async function* readPart(spec: SourceSpec, p: number, chunkRows: number): AsyncGenerator<Chunk> {
  const part = spec.parts[p];
  if (spec.layout === 'laion') {
    const img = await NpyReader.open(part.img!);
    const txt = part.text ? await NpyReader.open(part.text) : undefined;
    const alloc = (): NpyArray => (spec.dtype === 'float16' ? new Uint16Array(chunkRows * spec.dim) : new Float32Array(chunkRows * spec.dim));
    const ib = alloc();
    const tb = txt ? alloc() : undefined;
    try {
      for (let s = 0; s < part.rows; s += chunkRows) {
        const n = Math.min(chunkRows, part.rows - s);
        yield { base: part.base + s, rows: n, emb: await img.readRows(s, n, ib), text: txt ? await txt.readRows(s, n, tb) : undefined };
      }
    } finally {
      await img.close();
      await txt?.close();
    }
    return;
  }
  const pf = await openParquet(part.shard!);
  const d = spec.dim;
  for (const g of pf.groups) {
    for (const sl of slices(g, chunkRows)) {
      const rows = await readRowGroup(pf, sl, spec.scores ? ['id', 'image_embedding', 'clip_score'] : ['id', 'image_embedding']);
      const n = rows.length;
      const emb = new Uint16Array(n * d);
      const score = new Float64Array(n).fill(NaN);
      const ids: string[] = new Array(n);
      for (let r = 0; r < n; r++) {
        const row = rows[r];
        ids[r] = String(row.id);
        const b = row.image_embedding as Uint8Array | null | undefined;
        if (b && b.byteLength === d * 2) {
          new Uint8Array(emb.buffer, r * d * 2, d * 2).set(b);
        } else {
          emb.fill(0x7e00, r * d, (r + 1) * d); // NaN: rejected downstream as an invalid embedding
        }
        const cs = row.clip_score;
        if (typeof cs === 'number') score[r] = cs;
      }
      yield { base: part.base + sl.start, rows: n, emb, score, ids };
    }
  }
}

// crypto.hash (Node >= 20.12) is a one-shot digest, twice as fast as a Hash object per row.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

/** Stable id of a LAION-layout row when no id column exists: sha256(source, file, row), 32 hex. */
export function laionRowId(source: string, file: string, row: number): string {
  const key = `${source}\u0000${file}\u0000${row}`;
  return (oneShot ? oneShot('sha256', key, 'hex') : crypto.createHash('sha256').update(key).digest('hex')).slice(0, 32);
}

/** The part holding global row `row` (binary search). */
export function partOf(spec: SourceSpec, row: number): number {
  let lo = 0;
  let hi = spec.parts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (spec.parts[mid].base <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
