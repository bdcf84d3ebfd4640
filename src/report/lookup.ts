/**
 * Fetches a few rows of a stage's input again, for pictures of what the stage dropped: by file and row
 * (a reject's location) or by id (a cluster's members). Only row groups that hold a wanted row decode
 * their image and embedding columns; every other group is read for its id column only.
 */
import { join } from '../storage/location.js';
import { existsSync } from '../storage/sync.js';
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import { unified } from '../mix/unify.js';
import { f16Table } from '../util/float16.js';
import { captionOf } from './scan.js';

export interface Looked {
  source: string;
  caption: string;
  bytes: Uint8Array | null;
  /** The L2-normalised image embedding (float16 bits decoded), when the dataset has one. */
  embedding: Float32Array | null;
  clip_score: number | null;
}

const PICTURE = ['id', 'kind', 'source', 'text', 'texts', 'image', 'images', 'clip_score'];

function looked(row: Record<string, unknown>, withEmbedding: boolean): Looked {
  const u = unified(row);
  const bytes = u.images.find((im) => im?.bytes && im.bytes.length)?.bytes ?? null;
  return {
    source: u.source,
    caption: captionOf(u.texts),
    bytes: bytes ? bytes.slice() : null,
    embedding: withEmbedding ? normalised(row.image_embedding) : null,
    clip_score: typeof row.clip_score === 'number' ? row.clip_score : null,
  };
}

/** float16 bytes (little-endian), as score writes them, decoded and normalised. */
function normalised(v: unknown): Float32Array | null {
  if (!(v instanceof Uint8Array) || v.length < 2) return null;
  const n = v.length >> 1;
  const half = f16Table();
  const out = new Float32Array(n);
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const x = half[v[2 * i]! | (v[2 * i + 1]! << 8)]!;
    out[i] = x;
    ss += x * x;
  }
  if (!(ss > 0) || !Number.isFinite(ss)) return null;
  const inv = 1 / Math.sqrt(ss);
  for (let i = 0; i < n; i++) out[i]! *= inv;
  return out;
}

export function cosine(a: Float32Array | null, b: Float32Array | null): number | null {
  if (!a || !b || a.length !== b.length) return null;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Rows by (file relative to `dir`, row number); missing files and rows are left out. */
export async function byLocation(dir: string, wanted: { file: string; row: number }[]): Promise<Map<string, Looked>> {
  const out = new Map<string, Looked>();
  const files = [...new Set(wanted.map((w) => w.file))].sort();
  for (const rel of files) {
    const file = join(dir, rel);
    if (!rel.endsWith('.parquet') || !existsSync(file)) continue;
    const pf = await openParquet(file);
    const cols = PICTURE.filter((c) => pf.columns.includes(c));
    for (const w of wanted.filter((x) => x.file === rel).sort((a, b) => a.row - b.row)) {
      if (!(w.row >= 0 && w.row < pf.rows)) continue;
      const [row] = await readRowGroup(pf, { start: w.row, end: w.row + 1 }, cols);
      if (row) out.set(`${rel}:${w.row}`, looked(row, false));
    }
  }
  return out;
}

/** Rows by id over a dataset's shards, with their image embeddings. */
export async function byId(dir: string, shards: string[], ids: Set<string>): Promise<Map<string, Looked>> {
  const out = new Map<string, Looked>();
  for (const rel of shards) {
    if (out.size === ids.size) break;
    const pf = await openParquet(join(dir, rel));
    const cols = [...PICTURE, 'image_embedding'].filter((c) => pf.columns.includes(c));
    for (const g of pf.groups) {
      for (const sl of slices(g, 65536)) {
        const idRows = await readRowGroup(pf, sl, ['id']);
        const hits = idRows.map((r, i) => (ids.has(String(r.id)) && !out.has(String(r.id)) ? i : -1)).filter((i) => i >= 0);
        if (!hits.length) continue;
        for (const i of hits) {
          const [row] = await readRowGroup(pf, { start: sl.start + i, end: sl.start + i + 1 }, cols);
          if (row) out.set(String(row.id), looked(row, cols.includes('image_embedding')));
        }
      }
    }
  }
  return out;
}
