/**
 * What a filter sees of one row: its columns, its metadata JSON parsed once, the image's size and the text
 * of the record whatever its kind. Field paths (`metadata.punsafe`, `image.width`, `clip_score`) resolve
 * here, so expressions and built-in filters agree on what "missing" means: absent, null, or not a number
 * where a number is needed never crashes a run, it is an outcome the filter counts.
 */
import type { Kind } from '../records.js';

export type Row = Record<string, unknown>;

/** A field lookup: found with its value, or missing (absent, null, NaN, or inside a value that is not an object). */
export type Lookup = { found: true; value: unknown } | { found: false };

const MISSING: Lookup = { found: false };

/** Columns whose value is JSON text: their fields are reachable as `metadata.key.sub`. */
const JSON_COLUMNS = new Set(['metadata', 'general_metadata', 'head_scores']);

export class RecordView {
  private parsed = new Map<string, unknown>();
  private joined?: string;
  private memos = new Map<string, unknown>();
  /** A rewritten text (C4 keeps only its good lines): written instead of the record's own for text records. */
  cleanedText?: string;

  constructor(
    readonly kind: Kind,
    readonly row: Row,
  ) {}

  /** The JSON object a metadata column holds, or undefined (null, not JSON, not an object). */
  json(column: string): Record<string, unknown> | undefined {
    if (!this.parsed.has(column)) {
      let v: unknown;
      const raw = this.row[column];
      if (typeof raw === 'string') {
        try {
          v = JSON.parse(raw);
        } catch {
          v = undefined;
        }
      }
      this.parsed.set(column, v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined);
    }
    return this.parsed.get(column) as Record<string, unknown> | undefined;
  }

  /**
   * The record's text: a caption's or a text document's `text`, an interleaved document's text segments
   * joined by blank lines (the text a language or quality rule judges).
   */
  text(): string {
    if (this.joined !== undefined) return this.joined;
    const r = this.row;
    if (this.kind === 'interleaved') this.joined = Array.isArray(r.texts) ? r.texts.filter((t): t is string => typeof t === 'string').join('\n\n') : '';
    else this.joined = typeof r.text === 'string' ? r.text : '';
    return this.joined;
  }

  /** Work several filters share for one record (the words of a text), done once. */
  memo<T>(key: string, make: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, make());
    return this.memos.get(key) as T;
  }

  /** The caption image's size in pixels, when the row records it (ingest fills it from the decoded image or the WIDTH/HEIGHT columns). */
  imageSize(): { width: number; height: number } | undefined {
    const w = this.row.width, h = this.row.height;
    return typeof w === 'number' && typeof h === 'number' && w > 0 && h > 0 ? { width: w, height: h } : undefined;
  }

  /** The value at a dotted path, own properties only (never a prototype's), null and NaN counted as missing. */
  get(field: string): Lookup {
    const parts = field.split('.');
    const head = parts[0]!;
    let v: unknown;
    if (JSON_COLUMNS.has(head) && parts.length > 1) v = this.json(head);
    else if (head === 'image' && this.kind === 'caption') v = this.image();
    else if (head === 'text' && this.kind === 'interleaved') v = this.text();
    else if (head === 'num_images' && this.kind === 'interleaved') v = Array.isArray(this.row.images) ? this.row.images.filter((x) => x != null).length : undefined;
    else if (Object.hasOwn(this.row, head)) v = this.row[head];
    // a score head's output (score --head NAME=...) is a field of its own name
    else {
      const heads = this.json('head_scores');
      v = heads && Object.hasOwn(heads, head) ? heads[head] : undefined;
    }
    for (let i = 1; i < parts.length; i++) {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return MISSING;
      const o = v as Record<string, unknown>;
      v = Object.hasOwn(o, parts[i]!) ? o[parts[i]!] : undefined;
    }
    return present(v) ? { found: true, value: typeof v === 'bigint' ? Number(v) : v } : MISSING;
  }

  /** `image.width`, `image.height`, `image.format`, `image.path`, `image.bytes` (a length) of a caption row. */
  private image(): Record<string, unknown> {
    const img = this.row.image as { bytes?: unknown; path?: unknown } | null | undefined;
    const bytes = img?.bytes instanceof Uint8Array ? img.bytes.byteLength : null;
    return { width: this.row.width ?? null, height: this.row.height ?? null, format: this.row.image_format ?? null, path: img?.path ?? null, bytes };
  }
}

/** Absent, null and NaN are missing; raw bytes (image bytes, embeddings) are not values an expression can use. */
function present(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'number' && Number.isNaN(v)) return false;
  return !(v instanceof Uint8Array);
}
