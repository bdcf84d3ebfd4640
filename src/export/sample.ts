/**
 * One input row as an exported sample: the parts of a WebDataset sample (img2dataset's layout for image-text
 * pairs, Megatron-Energon's interleaved layout for documents) or a LLaVA conversation. Pure functions: a row
 * either becomes a sample or a reject reason with a detail for the user.
 */
import { probeImage } from '../image/header.js';
import type { Layout } from '../records.js';
import { toMixture } from '../mix/unify.js';
import { choosePrompt } from '../mix/prompts.js';

export type Row = Record<string, unknown>;

export interface Rejected {
  reason: string;
  detail: string;
}

export interface Part {
  /** The extension after `KEY.` (`jpg`, `txt`, `json`, `0.jpg`). */
  ext: string;
  data: Uint8Array;
}

/** The columns an export reads (embeddings never). */
export const EXPORT_COLUMNS = ['id', 'kind', 'source', 'image', 'text', 'url', 'image_format', 'width', 'height', 'metadata', 'general_metadata', 'clip_score', 'texts', 'images'];

const EXT: Record<string, string> = { jpeg: 'jpg', jpg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tif', tif: 'tif', avif: 'avif', heif: 'heic', heic: 'heic', svg: 'svg', bmp: 'bmp' };

/** The file extension of an image: its header first, then the recorded format, then its path. */
export function imageExt(bytes: Uint8Array, format?: unknown, p?: unknown): string | undefined {
  const h = probeImage(bytes);
  if (h) return EXT[h.format];
  if (typeof format === 'string' && EXT[format.toLowerCase()]) return EXT[format.toLowerCase()];
  if (typeof p === 'string') {
    const m = /\.([A-Za-z0-9]+)$/.exec(p.split('?')[0]!);
    if (m && EXT[m[1]!.toLowerCase()]) return EXT[m[1]!.toLowerCase()];
  }
  return undefined;
}

/** A row of any layout in the mixture's form, its metadata parsed (url, size, format, inner metadata…). */
export interface Unified {
  id: string;
  kind: string;
  source: string;
  texts: (string | null)[];
  images: ({ bytes: Uint8Array | null; path: string | null } | null)[];
  meta: Record<string, unknown>;
  clipScore?: number | null;
}

export function unify(row: Row, layout: Layout): Unified {
  const m = toMixture(row, layout);
  let meta: Record<string, unknown> = {};
  try {
    const p = JSON.parse(m.metadata ?? '{}') as unknown;
    if (p && typeof p === 'object' && !Array.isArray(p)) meta = p as Record<string, unknown>;
  } catch {
    meta = {};
  }
  return { id: m.id, kind: m.kind, source: m.source, texts: m.texts, images: m.images, meta, ...('clip_score' in m ? { clipScore: m.clip_score ?? null } : {}) };
}

const enc = new TextEncoder();
const json = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v, null, 4));

/** Metadata without the fields a sample's JSON already holds at its top level; the inner one alone if it is all. */
function restOf(meta: Record<string, unknown>): unknown {
  const rest = Object.fromEntries(Object.entries(meta).filter(([k]) => !['url', 'width', 'height', 'image_format'].includes(k)));
  const keys = Object.keys(rest);
  if (keys.length === 0) return null;
  if (keys.length === 1 && keys[0] === 'metadata') return rest.metadata ?? null;
  return rest;
}

function noBytes(what: string, path: string | null): Rejected {
  return {
    reason: 'no_image_bytes',
    detail: `${what} has no image bytes, only a reference (${path ?? 'no path'}); a trainer cannot read it from the export. Download the images first (e.g. with img2dataset) and ingest that output`,
  };
}

/**
 * The WebDataset parts of a sample. An image-text pair follows img2dataset (`KEY.jpg`, `KEY.txt`, `KEY.json`);
 * an interleaved document follows Megatron-Energon's interleaved blueprint (`KEY.json` with `texts` and
 * `images` lists, an image entry naming its part, `KEY.0.jpg`, `KEY.1.png`…); a text document is `KEY.txt`
 * and `KEY.json`.
 */
export function webdatasetParts(u: Unified, key: string): Part[] | Rejected {
  const common = { key, id: u.id, source: u.source, kind: u.kind };
  const score = u.clipScore !== undefined ? { clip_score: u.clipScore } : {};
  if (u.kind === 'caption') {
    const img = u.images.find((x) => x !== null) ?? null;
    const caption = u.texts.find((t) => typeof t === 'string') ?? '';
    if (!img) return { reason: 'no_image', detail: 'an image-text pair without an image' };
    if (!img.bytes) return noBytes('the image', img.path);
    const ext = imageExt(img.bytes, u.meta.image_format, img.path);
    if (!ext) return { reason: 'unknown_image_format', detail: `the image (${img.bytes.length} bytes, path ${img.path ?? 'none'}) is not JPEG, PNG, WebP or GIF and its format is not recorded` };
    const h = probeImage(img.bytes);
    const meta = {
      ...common,
      url: typeof u.meta.url === 'string' ? u.meta.url : img.path,
      caption,
      width: typeof u.meta.width === 'number' ? u.meta.width : (h?.width ?? null),
      height: typeof u.meta.height === 'number' ? u.meta.height : (h?.height ?? null),
      ...score,
      status: 'success',
      metadata: restOf(u.meta),
    };
    return [
      { ext, data: img.bytes },
      { ext: 'txt', data: enc.encode(caption) },
      { ext: 'json', data: json(meta) },
    ];
  }
  if (u.kind === 'interleaved') {
    const parts: Part[] = [];
    const names: (string | null)[] = [];
    for (let i = 0; i < u.images.length; i++) {
      const img = u.images[i];
      if (!img) {
        names.push(null);
        continue;
      }
      if (!img.bytes) return noBytes(`image ${i} of the document`, img.path);
      const ext = imageExt(img.bytes, undefined, img.path);
      if (!ext) return { reason: 'unknown_image_format', detail: `image ${i} of the document (${img.bytes.length} bytes) is not JPEG, PNG, WebP or GIF` };
      const name = `${parts.length}.${ext}`;
      names.push(name);
      parts.push({ ext: name, data: img.bytes });
    }
    const meta = { ...common, texts: u.texts, images: names, ...score, metadata: restOf(u.meta) };
    return [...parts, { ext: 'json', data: json(meta) }];
  }
  const text = u.texts.find((t) => typeof t === 'string') ?? '';
  return [
    { ext: 'txt', data: enc.encode(text) },
    { ext: 'json', data: json({ ...common, metadata: restOf(u.meta) }) },
  ];
}

/**
 * LLaVA's pre-training captions (the 558K LAION/CC/SBU set): a brief-description instruction, the caption as
 * the answer. These are the brief-description prompts of the LLaVA paper (arXiv 2304.08485, Table 8).
 */
export const BRIEF_PROMPTS: readonly string[] = [
  'Describe the image concisely.',
  'Provide a brief description of the given image.',
  'Offer a succinct explanation of the picture presented.',
  'Summarize the visual content of the image.',
  'Give a short and clear explanation of the subsequent image.',
  'Share a concise interpretation of the image provided.',
  'Present a compact description of the photo\'s key features.',
  'Relay a brief, clear account of the picture shown.',
  'Render a clear and concise summary of the photo.',
  'Write a terse but informative summary of the picture.',
  'Create a compact narrative representing the image presented.',
];

export interface Turn {
  from: 'human' | 'gpt';
  value: string;
}

export interface LlavaSample {
  conversations: Turn[];
  /** The image to write beside the JSON, when the sample has one. */
  image?: { bytes: Uint8Array; ext: string };
}

const ROLES: Record<string, Turn['from']> = { human: 'human', user: 'human', gpt: 'gpt', assistant: 'gpt' };

/** A LLaVA `conversations` list as the mixture keeps it (top level of metadata, or the record's own metadata). */
function conversationsOf(meta: Record<string, unknown>): unknown[] | undefined {
  if (Array.isArray(meta.conversations)) return meta.conversations;
  const inner = meta.metadata as Record<string, unknown> | undefined;
  if (inner && typeof inner === 'object' && Array.isArray(inner.conversations)) return inner.conversations;
  return undefined;
}

function turns(raw: unknown[]): Turn[] | string {
  const out: Turn[] = [];
  for (const [i, t] of raw.entries()) {
    if (!t || typeof t !== 'object') return `turn ${i} is not an object`;
    const o = t as Record<string, unknown>;
    const from = ROLES[String(o.from ?? o.role ?? '')];
    const value = typeof o.value === 'string' ? o.value : typeof o.content === 'string' ? o.content : undefined;
    if (!from) return `turn ${i} has from/role ${JSON.stringify(o.from ?? o.role ?? null)}, expected human/user or gpt/assistant`;
    if (value === undefined) return `turn ${i} has no string value/content`;
    out.push({ from, value });
  }
  if (!out.length) return 'the list is empty';
  if (out[0]!.from !== 'human') return 'the first turn is not from the human (LLaVA\'s training skips such a conversation)';
  return out;
}

/** A row as a LLaVA conversation, or why it cannot be one. */
export function llavaSample(u: Unified, prompts: readonly string[]): LlavaSample | Rejected {
  if (u.kind === 'interleaved') {
    return { reason: 'interleaved_document', detail: 'a LLaVA sample holds one image and a conversation; export interleaved documents with --format webdataset' };
  }
  const img = u.images.find((x) => x !== null) ?? null;
  let image: LlavaSample['image'];
  if (u.kind === 'caption') {
    if (!img) return { reason: 'no_image', detail: 'an image-text pair without an image' };
    if (!img.bytes) return noBytes('the image', img.path);
    const ext = imageExt(img.bytes, u.meta.image_format, img.path);
    if (!ext) return { reason: 'unknown_image_format', detail: `the image (${img.bytes.length} bytes) is not JPEG, PNG, WebP or GIF and its format is not recorded` };
    image = { bytes: img.bytes, ext };
  }
  const raw = conversationsOf(u.meta);
  if (raw) {
    const t = turns(raw);
    if (typeof t === 'string') return { reason: 'invalid_conversation', detail: `metadata.conversations: ${t}` };
    const mentions = t.some((x) => x.value.includes('<image>'));
    if (!image && mentions) return { reason: 'image_token_without_image', detail: 'the conversation names <image> but the record has no image' };
    // LLaVA places the image where <image> stands; a conversation without it gets it before the first question
    if (image && !mentions) t[0] = { from: 'human', value: `<image>\n${t[0]!.value}` };
    return { conversations: t, ...(image ? { image } : {}) };
  }
  if (!image) return { reason: 'no_conversation', detail: 'a text record without a conversations list in its metadata has no instruction form for LLaVA' };
  const caption = u.texts.find((t) => typeof t === 'string') ?? '';
  return {
    conversations: [
      { from: 'human', value: `<image>\n${choosePrompt(prompts, 0, u.id)}` },
      { from: 'gpt', value: caption },
    ],
    image,
  };
}
