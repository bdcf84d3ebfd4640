/**
 * What "the same content" means for exact deduplication (docs/dedup.md): each --exact mode turns a row into
 * one normalised key, hashed with sha256 (node:crypto, no dependency; xxHash was not worth one: hashing is a
 * small share of the time next to decoding Parquet and normalising text). A row with no key (no image bytes,
 * no URL, no text) cannot be a duplicate: it is kept and counted as `unkeyed`.
 */
import crypto from 'node:crypto';

export const EXACT_MODES = ['image', 'caption', 'text', 'url', 'image+caption'] as const;
export type ExactMode = (typeof EXACT_MODES)[number];
export type DedupLayout = 'caption' | 'interleaved' | 'text';

// crypto.hash (Node >= 20.12) is a one-shot digest, faster than a Hash object per row.
const oneShot = (crypto as { hash?: (alg: string, data: string | Uint8Array, enc: 'buffer') => Buffer }).hash;

export function sha256(data: string | Uint8Array): Buffer {
  return oneShot ? oneShot('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest();
}

/**
 * Text as compared: Unicode NFC (composed and decomposed accents are one character), lower case
 * (locale-independent), every run of white space one space, trimmed.
 */
export function normalizeText(s: string): string {
  return s.normalize('NFC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/**
 * A URL as compared: parsed by the WHATWG URL parser (scheme and host lower-cased, default port and `.`
 * segments removed, percent-encoding made canonical), the fragment dropped (it never reaches the server).
 * A string the parser refuses is compared trimmed, as it is.
 */
export function normalizeUrl(s: string): string {
  const t = s.trim();
  try {
    const u = new URL(t);
    u.hash = '';
    return u.href;
  } catch {
    return t;
  }
}

/** The columns each layout needs read to build a mode's key (besides id and source). */
export function keyColumns(layout: DedupLayout, mode: ExactMode | 'near'): string[] {
  if (layout === 'caption') return mode === 'image' ? ['image'] : mode === 'url' ? ['url'] : mode === 'image+caption' ? ['image', 'text'] : ['text'];
  if (layout === 'interleaved') return mode === 'url' ? ['metadata', 'general_metadata'] : mode === 'image' ? ['images'] : mode === 'image+caption' ? ['images', 'texts'] : ['texts'];
  return mode === 'url' ? ['metadata'] : ['text'];
}

/** A row's text: the caption, the text document, or an interleaved document's texts joined by new lines. */
export function rowText(layout: DedupLayout, row: Record<string, unknown>): string | undefined {
  if (layout === 'interleaved') {
    const texts = row.texts;
    if (!Array.isArray(texts)) return undefined;
    const parts = texts.filter((t): t is string => typeof t === 'string');
    return parts.length ? parts.join('\n') : undefined;
  }
  return typeof row.text === 'string' ? row.text : undefined;
}

function imageBytes(v: unknown): Uint8Array | undefined {
  const b = (v as { bytes?: unknown } | null | undefined)?.bytes;
  return b instanceof Uint8Array && b.byteLength > 0 ? b : undefined;
}

/**
 * The image part of a key: the sha256 of the encoded bytes as stored (not of decoded pixels: decoding costs
 * milliseconds an image against microseconds for the hash, and a lossy re-encode changes the pixels anyway;
 * copies that differ in encoding are the semantic deduplication's job, `mmcurate coreset`). An interleaved
 * document's images are hashed in order; a document with an image stored only by URL has no image key.
 */
function imageKey(layout: DedupLayout, row: Record<string, unknown>): Buffer | undefined {
  if (layout === 'caption') {
    const b = imageBytes(row.image);
    return b ? sha256(b) : undefined;
  }
  if (layout !== 'interleaved' || !Array.isArray(row.images)) return undefined;
  const digests: Buffer[] = [];
  for (const im of row.images) {
    if (im == null) continue;
    const b = imageBytes(im);
    if (!b) return undefined;
    digests.push(sha256(b));
  }
  return digests.length ? sha256(Buffer.concat(digests)) : undefined;
}

function urlOf(layout: DedupLayout, row: Record<string, unknown>): string | undefined {
  if (layout === 'caption') return typeof row.url === 'string' && row.url.trim() ? row.url : undefined;
  // web documents (FineWeb, OBELICS) carry their page URL in their metadata
  for (const col of layout === 'interleaved' ? ['general_metadata', 'metadata'] : ['metadata']) {
    const m = row[col];
    if (typeof m !== 'string' || !m.includes('"url"')) continue;
    try {
      const u = (JSON.parse(m) as { url?: unknown }).url;
      if (typeof u === 'string' && u.trim()) return u;
    } catch {
      // metadata that is not JSON has no URL
    }
  }
  return undefined;
}

/** The 32-byte key of a row under an exact mode, or undefined when the row has none. */
export function exactKey(mode: ExactMode, layout: DedupLayout, row: Record<string, unknown>): Buffer | undefined {
  switch (mode) {
    case 'caption':
    case 'text': {
      const t = rowText(layout, row);
      const n = t === undefined ? '' : normalizeText(t);
      return n ? sha256(n) : undefined;
    }
    case 'url': {
      const u = urlOf(layout, row);
      return u === undefined ? undefined : sha256(normalizeUrl(u));
    }
    case 'image':
      return imageKey(layout, row);
    case 'image+caption': {
      const im = imageKey(layout, row);
      const t = rowText(layout, row);
      if (!im || t === undefined) return undefined;
      return sha256(Buffer.concat([im, Buffer.from('\u0000' + normalizeText(t), 'utf8')]));
    }
  }
}
