/**
 * Raw input fields → a record of one kind. Recognises the column names the ecosystem uses (LAION, COYO,
 * img2dataset, HF datasets, OBELICS), honours `--map field=column`, decodes local and embedded images, and
 * validates the result against the kind's schema: the edge where input becomes a record.
 */
import { recordId, type AnyRecord, type CaptionRecord, type Image, type InterleavedRecord, type Kind, type TextRecord } from '../records.js';
import { describeErrors, recordValidator } from '../schemas.js';
import { isStackOverflow, tooDeepDetail } from './depth.js';
import { checkImage, isFailure, loadLocalImage, type DecodedImage, type ImageCheckMode, type ImageFailure } from './images.js';
import { parseJson } from './json.js';
import { jsonText } from '../util/json-text.js';
import type { RawItem } from './readers/types.js';

export interface MapOptions {
  /** field → input column, from `--map`. */
  map: Record<string, string>;
  maxPixels: number;
  imageCheck?: ImageCheckMode;
  /** Bounds the image reads and decodes in flight across a batch. */
  limit: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Where local image paths resolve and may point. */
  paths: ImagePaths;
}

/**
 * The path rule for local images. A relative path resolves against the input file's folder, except in an
 * image struct `{bytes: null, path}` read from Parquet, which resolves as HF `datasets` resolves it: against
 * the working directory, or `--image-root` when given. The path must then lie inside the folder it resolved
 * against, or inside `--image-root` when given (local-files.ts has the rest: links, file types, size).
 */
export interface ImagePaths {
  /** `--image-root`, absolute. */
  root?: string;
  /** `--allow-paths-outside`: paths are not confined. */
  allowOutside: boolean;
  /** `--max-image-mb`, in bytes. */
  maxBytes: number;
  /** Where relative paths in `{bytes: null, path}` structs resolve (Parquet inputs); absent: the file's folder. */
  structBase?: string;
}

export type Mapped = { record: AnyRecord } | { reason: string; detail: string };
type Body<R> = Omit<R, 'id' | 'source'> | { reason: string; detail: string };
/** Rows without images to decode (URL references, text) map synchronously: a promise per row costs more than the row. */
type Maybe<T> = T | Promise<T>;

/** The fields each kind takes from its input, and the column names recognised for each. */
export const FIELD_NAMES: Record<Kind, Record<string, string[]>> = {
  caption: {
    caption: ['caption', 'text', 'TEXT', 'txt', 'alt_text', 'alt'],
    image: ['image', 'image_path', 'path', 'jpg', 'jpeg', 'png', 'webp', 'img', 'file_name'],
    url: ['url', 'URL', 'image_url'],
  },
  interleaved: { texts: ['texts'], images: ['images'], metadata: ['metadata'], general_metadata: ['general_metadata'] },
  text: { text: ['text', 'content', 'raw_content'] },
};

const URL_RE = /^(https?|s3|gs):\/\//i;

function pick(fields: Record<string, unknown>, kind: Kind, field: string, map: Record<string, string>): { col?: string; value: unknown } {
  const forced = map[field];
  if (forced) return { col: forced, value: fields[forced] };
  for (const c of FIELD_NAMES[kind][field] ?? []) if (fields[c] !== undefined && fields[c] !== null) return { col: c, value: fields[c] };
  return { value: undefined };
}

/** Input values as JSON text (see util/json-text.ts); bytes are left out, big integers keep their digits. */
function toJson(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  return jsonText(v);
}

/**
 * The input fields a record does not use, as a JSON object (or null when none is left). A WebDataset
 * sample's KEY.json comes first; the sample's other members override it.
 */
function rest(fields: Record<string, unknown>, used: (string | undefined)[], plain?: boolean, sidecar?: Record<string, unknown>): string | null {
  if (plain) {
    // JSON-born fields hold no bytes or bigints: serialise the object as it is, minus the used columns.
    // Setting them undefined (JSON.stringify skips them) keeps V8's fast object shape; `delete` does not.
    let left = 0;
    for (const k in fields) if (fields[k] !== undefined && !used.includes(k)) left++;
    if (left === 0) return null;
    for (const k of used) if (k !== undefined) fields[k] = undefined;
    return JSON.stringify(fields);
  }
  const out: Record<string, unknown> = { ...sidecar };
  for (const [k, v] of Object.entries(fields)) {
    if (used.includes(k) || k === '__key__' || v instanceof Uint8Array) continue;
    out[k] = v;
  }
  return Object.keys(out).length ? toJson(out) : null;
}

type ImageResult = { image: Image; decoded?: DecodedImage } | ImageFailure;

function resolveImage(value: unknown, baseDir: string, o: MapOptions, what: string): Maybe<ImageResult | undefined> {
  if (value === undefined || value === null) return undefined;
  const maxPixels = o.maxPixels;
  const kept = (d: DecodedImage | ImageFailure, path: string | null): ImageResult => (isFailure(d) ? d : { image: { bytes: d.bytes, path }, decoded: d });
  if (value instanceof Uint8Array) return o.limit(() => checkImage(value, maxPixels, what, o.imageCheck)).then((d) => kept(d, null));
  if (typeof value === 'string') {
    if (value.trim() === '') return undefined;
    if (URL_RE.test(value)) return { image: { bytes: null, path: value } };
    const rules = { maxBytes: o.paths.maxBytes, ...(o.paths.allowOutside ? {} : { root: o.paths.root ?? baseDir }) };
    return o.limit(() => loadLocalImage(baseDir, value, rules, maxPixels, o.imageCheck)).then((d) => kept(d, value));
  }
  if (typeof value === 'object') {
    const obj = value as { bytes?: unknown; path?: unknown };
    const p = typeof obj.path === 'string' ? obj.path : null;
    if (obj.bytes instanceof Uint8Array) {
      const bytes = obj.bytes;
      return o.limit(() => checkImage(bytes, maxPixels, p ?? what, o.imageCheck)).then((d) => kept(d, p));
    }
    if (p) return resolveImage(p, o.paths.structBase ?? baseDir, o, what);
    return undefined;
  }
  return { reason: 'image_decode_failed', detail: `${what}: expected a path, URL, bytes or {bytes, path}, got ${typeof value}` };
}

function num(v: unknown): number | null {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 2 ** 31 ? n : null;
}

function caption(f: Record<string, unknown>, item: RawItem, o: MapOptions): Maybe<Body<CaptionRecord>> {
  const cap = pick(f, 'caption', 'caption', o.map);
  if (typeof cap.value !== 'string') {
    const looked = o.map.caption ? [o.map.caption] : FIELD_NAMES.caption.caption!;
    return { reason: 'missing_caption', detail: `no caption: looked for ${looked.join(', ')}; available: ${Object.keys(f).filter((k) => k !== '__key__').join(', ')} (use --map caption=COLUMN)` };
  }
  if (cap.value.trim() === '') return { reason: 'empty_text', detail: 'the caption is blank' };
  const img = pick(f, 'caption', 'image', o.map);
  const url = pick(f, 'caption', 'url', o.map);
  const meta = item.sidecar ?? {};
  const urlValue = typeof url.value === 'string' && url.value ? url.value : typeof meta.url === 'string' ? meta.url : null;
  const resolved = resolveImage(img.value, item.baseDir, o, `image of ${item.location}`);
  const finish = (r: ImageResult | undefined): Body<CaptionRecord> => captionBody(f, item, o, cap as { col?: string; value: string }, img.col, url.col, urlValue, meta, r);
  return resolved instanceof Promise ? resolved.then(finish) : finish(resolved);
}

function captionBody(
  f: Record<string, unknown>,
  item: RawItem,
  o: MapOptions,
  cap: { col?: string; value: string },
  imgCol: string | undefined,
  urlCol: string | undefined,
  urlValue: string | null,
  meta: Record<string, unknown>,
  resolved: ImageResult | undefined,
): Body<CaptionRecord> {
  if (resolved && 'reason' in resolved) return resolved;
  let image: Image;
  let decoded: DecodedImage | undefined;
  if (resolved) ({ image, decoded } = resolved);
  else if (urlValue) image = { bytes: null, path: urlValue };
  else {
    const looked = [...(o.map.image ? [o.map.image] : FIELD_NAMES.caption.image!), ...(o.map.url ? [o.map.url] : FIELD_NAMES.caption.url!)];
    return { reason: 'image_missing', detail: `no image: looked for ${looked.join(', ')} (use --map image=COLUMN or --map url=COLUMN)` };
  }
  const dims = decoded ?? { width: num(f.width ?? f.WIDTH ?? meta.width), height: num(f.height ?? f.HEIGHT ?? meta.height), format: null };
  return {
    kind: 'caption',
    image,
    text: cap.value,
    url: urlValue ?? (image.bytes === null ? image.path : null),
    image_format: (decoded?.format ?? null) as CaptionRecord['image_format'],
    width: dims.width,
    height: dims.height,
    metadata: rest(f, [cap.col, imgCol, urlCol], item.plain, item.sidecar),
  };
}

async function interleaved(f: Record<string, unknown>, item: RawItem, o: MapOptions): Promise<Body<InterleavedRecord>> {
  const t = pick(f, 'interleaved', 'texts', o.map);
  const i = pick(f, 'interleaved', 'images', o.map);
  const texts = typeof t.value === 'string' ? safeParse(t.value) : t.value;
  const images = typeof i.value === 'string' ? safeParse(i.value) : i.value;
  if (!Array.isArray(texts) || !Array.isArray(images)) {
    return { reason: 'missing_field', detail: `an interleaved document needs list columns ${o.map.texts ?? 'texts'} and ${o.map.images ?? 'images'}; available: ${Object.keys(f).join(', ')}` };
  }
  if (texts.length !== images.length) return { reason: 'mismatched_lists', detail: `texts has ${texts.length} entries and images ${images.length}; they must be parallel` };
  if (texts.length === 0) return { reason: 'empty_document', detail: 'texts and images are empty' };
  const outImages: (Image | null)[] = [];
  for (let p = 0; p < texts.length; p++) {
    const tv = texts[p], iv = images[p];
    const hasT = tv !== null && tv !== undefined, hasI = iv !== null && iv !== undefined;
    if (hasT === hasI) return { reason: 'mismatched_lists', detail: `position ${p} has ${hasT ? 'both a text and an image' : 'neither text nor image'}; exactly one must be non-null` };
    if (hasT && typeof tv !== 'string') return { reason: 'mismatched_lists', detail: `texts[${p}] is not a string` };
    if (!hasI) {
      outImages.push(null);
      continue;
    }
    const r = await resolveImage(iv, item.baseDir, o, `images[${p}] of ${item.location}`);
    if (!r) return { reason: 'image_missing', detail: `images[${p}] is empty` };
    if ('reason' in r) return r;
    outImages.push(r.image);
  }
  if (!texts.some((x) => typeof x === 'string' && x.trim() !== '')) return { reason: 'empty_text', detail: 'the document has no text' };
  const m = pick(f, 'interleaved', 'metadata', o.map);
  const g = pick(f, 'interleaved', 'general_metadata', o.map);
  // every column an interleaved field was looked for in, null or not, is that field's, not an extra
  const consulted = [...Object.values(FIELD_NAMES.interleaved).flat(), ...Object.values(o.map)];
  return {
    kind: 'interleaved',
    texts: texts.map((x) => (x === undefined ? null : (x as string | null))),
    images: outImages,
    metadata: toJson(m.value),
    general_metadata: withExtras(toJson(g.value), rest(f, consulted, false, item.sidecar)),
  };
}

/**
 * Columns beside the OBELICS ones (doc_id, lang...) join general_metadata when it is a JSON object, as
 * text, so the original document's own text is kept byte for byte; a key it has already wins.
 */
function withExtras(general: string | null, extras: string | null): string | null {
  if (extras === null) return general;
  if (general === null) return extras;
  let doc: unknown;
  try {
    doc = JSON.parse(general);
  } catch {
    doc = undefined;
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return general; // not an object: nowhere to put them
  const add = parseJson(extras) as Record<string, unknown>; // toJson wrote big integers by their digits: keep them
  const keys = Object.keys(add).filter((k) => !(k in (doc as object)));
  if (!keys.length) return general;
  const more = toJson(Object.fromEntries(keys.map((k) => [k, add[k]])))!.slice(1, -1);
  const head = general.trimEnd().slice(0, -1).trimEnd();
  return `${head}${Object.keys(doc as object).length ? ',' : ''}${more}}`;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function text(f: Record<string, unknown>, _item: RawItem, o: MapOptions): Body<TextRecord> {
  const t = pick(f, 'text', 'text', o.map);
  if (typeof t.value !== 'string') {
    return { reason: 'missing_text', detail: `no text: looked for ${(o.map.text ? [o.map.text] : FIELD_NAMES.text.text!).join(', ')}; available: ${Object.keys(f).join(', ')} (use --map text=COLUMN)` };
  }
  if (t.value.trim() === '') return { reason: 'empty_text', detail: 'the text is blank' };
  return { kind: 'text', text: t.value, metadata: rest(f, [t.col], _item.plain) };
}

const validators: Partial<Record<Kind, ReturnType<typeof recordValidator>>> = {};

/**
 * Maps one raw item; synchronous unless an image has to be read or decoded. Readers reject records nested
 * past MAX_DEPTH; one that overflows the stack anyway (a Parquet schema nested that deep) is rejected here,
 * not the end of the run.
 */
export function toRecord(kind: Kind, source: string, item: RawItem, o: MapOptions): Maybe<Mapped> {
  if (item.error) return item.error;
  const f = item.fields!;
  const tooDeep = (err: unknown): Mapped => {
    if (isStackOverflow(err)) return { reason: 'too_deep', detail: tooDeepDetail('the record') };
    throw err;
  };
  try {
    const body = kind === 'caption' ? caption(f, item, o) : kind === 'interleaved' ? interleaved(f, item, o) : text(f, item, o);
    return body instanceof Promise ? body.then((b) => finishRecord(kind, source, item, b)).catch(tooDeep) : finishRecord(kind, source, item, body);
  } catch (err) {
    return tooDeep(err);
  }
}

function finishRecord(kind: Kind, source: string, item: RawItem, body: Body<CaptionRecord> | Body<InterleavedRecord> | Body<TextRecord>): Mapped {
  if ('reason' in body) return body;
  const record = body as AnyRecord;
  record.id = recordId(source, item.file, item.key);
  record.source = source;
  const validate = (validators[kind] ??= recordValidator(kind));
  if (!validate(record)) return { reason: 'schema_violation', detail: describeErrors(validate.errors, record) };
  return { record };
}
