/**
 * One schema for every kind (the mixture's, OBELICS-style): a caption pair becomes [image, text], a text
 * document [text], an interleaved document stays as it is. The kind-specific columns that have no place in
 * the mixture (url, size, format, general_metadata) move into the `metadata` JSON, so nothing is lost.
 */
import type { Image, Layout, MixtureRecord } from '../records.js';

export type Row = Record<string, unknown>;

/** The texts and images of any row, in the OBELICS layout. */
export interface Unified {
  id: string;
  kind: string;
  source: string;
  texts: (string | null)[];
  images: (Image | null)[];
}

function image(v: unknown): Image | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as { bytes?: unknown; path?: unknown };
  return { bytes: o.bytes instanceof Uint8Array ? o.bytes : null, path: typeof o.path === 'string' ? o.path : null };
}

function parse(json: unknown): unknown {
  if (typeof json !== 'string') return json ?? null;
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}

/** Reads texts and images from a row of any layout (the column set tells which). */
export function unified(row: Row): Unified {
  const base = { id: String(row.id ?? ''), kind: String(row.kind ?? ''), source: String(row.source ?? '') };
  if (Array.isArray(row.texts)) {
    const texts = (row.texts as unknown[]).map((t) => (typeof t === 'string' ? t : null));
    const images = Array.isArray(row.images) ? (row.images as unknown[]).map(image) : texts.map(() => null);
    return { ...base, texts, images };
  }
  const text = typeof row.text === 'string' ? row.text : null;
  if ('image' in row) return { ...base, texts: [null, text], images: [image(row.image), null] };
  return { ...base, texts: [text], images: [null] };
}

/** Number of images of a sample (a remote image with null bytes still counts: it will be fetched). */
export function imageCount(u: Unified): number {
  let n = 0;
  for (const im of u.images) if (im && (im.bytes || im.path)) n++;
  return n;
}

/** The kind-specific fields that the mixture keeps inside `metadata`. */
function metadataOf(row: Row, layout: Layout): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  if (layout === 'mixture') {
    const p = parse(row.metadata);
    return p && typeof p === 'object' && !Array.isArray(p) ? { ...(p as Record<string, unknown>) } : p == null ? {} : { metadata: p };
  }
  for (const k of ['url', 'image_format', 'width', 'height']) if (row[k] != null) m[k] = row[k];
  if (row.metadata != null) m.metadata = parse(row.metadata);
  if (row.general_metadata != null) m.general_metadata = parse(row.general_metadata);
  return m;
}

/** Converts a row of `layout` into a mixture record; `extra` metadata (e.g. the prompt applied) is merged in. */
export function toMixture(row: Row, layout: Layout, extra?: Record<string, unknown>): MixtureRecord {
  const u = unified(row);
  const meta = { ...metadataOf(row, layout), ...extra };
  const rec: MixtureRecord = {
    id: u.id,
    kind: u.kind as MixtureRecord['kind'],
    source: u.source,
    texts: u.texts,
    images: u.images,
    metadata: JSON.stringify(meta),
  };
  if (typeof row.clip_score === 'number') rec.clip_score = row.clip_score;
  else if ('clip_score' in row) rec.clip_score = null;
  return rec;
}
