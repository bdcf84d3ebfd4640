/**
 * WebDataset tar shards as img2dataset writes them: a sample's files are contiguous and share a key (the
 * path up to the first dot of the basename): KEY.jpg|png|webp, KEY.txt, KEY.json. Entries are read into
 * memory one sample at a time; their names never reach the file system.
 *
 * A member whose extension the sample already holds starts a new sample with the same key, as in the
 * webdataset library. A key seen before in the tar (adjacent or not) is rejected as `duplicate_key`: its id
 * would repeat the first occurrence's, which is kept. Two image members (`KEY.jpg` and `KEY.png`) are
 * `ambiguous_image`: a record holds one image. A multi-dot extension is a field of its own (`KEY.seg.png`
 * is the field `seg.png`, not the image). Text members go into the record's fields as strings; any other
 * member (`KEY.npy`, `KEY.seg.png`) as bytes, which metadata leaves out.
 */
import path from 'node:path';
import { extract } from 'tar-stream';
import { MAX_DEPTH, nestsDeeperThan, tooDeepDetail } from '../depth.js';
import { withExactIntegers } from '../json.js';
import { openInput } from './lines.js';
import { UnreadableFileError, type RawItem, type Reader } from './types.js';

/** Samples per batch, and bytes: a batch of large images stays bounded. */
const SAMPLES = 64;
const BATCH_BYTES = 64 * 1024 * 1024;

const MAX_ENTRY_BYTES = 256 * 1024 * 1024;
const IMAGE_EXT = new Set(['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif']);
/** The caption members. */
const CAPTION_EXT = new Set(['txt', 'caption', 'text']);
/**
 * Members read as UTF-8 text (by the last part of a multi-dot extension: `en.txt` is text): the captions,
 * JSON, and what the webdataset library decodes as text or a number. Everything else is binary.
 */
const TEXT_EXT = new Set([...CAPTION_EXT, 'json', 'jsn', 'transcript', 'cls', 'cls2', 'class', 'count', 'index', 'inx', 'id']);

export function splitKey(name: string): { key: string; ext: string } {
  const dir = path.posix.dirname(name);
  const base = path.posix.basename(name);
  const dot = base.indexOf('.');
  const stem = dot < 0 ? base : base.slice(0, dot);
  return { key: dir === '.' ? stem : `${dir}/${stem}`, ext: dot < 0 ? '' : base.slice(dot + 1).toLowerCase() };
}

function isText(ext: string): boolean {
  return TEXT_EXT.has(ext.slice(ext.lastIndexOf('.') + 1));
}

interface Sample {
  key: string;
  /** Member bytes by extension. */
  files: Map<string, Buffer>;
  /** Extensions of every member seen, kept or skipped: a repeat starts a new sample. */
  exts: Set<string>;
  /** Names of the image members. */
  images: string[];
  /** The key appeared earlier in the tar: the member that repeated it. */
  duplicate?: string;
  tooBig?: string;
}

export const readWebDataset: Reader = async function* ({ absPath, relPath, onBytes }): AsyncGenerator<RawItem[]> {
  const ex = extract();
  const src = openInput(absPath, onBytes);
  src.pipe(ex);
  let cur: Sample | undefined;
  // every key read so far: about 10K per img2dataset tar
  const seen = new Set<string>();
  let out: RawItem[] = [];
  let outBytes = 0;
  const emit = (s: Sample): RawItem => {
    const at = { file: relPath, location: `key ${s.key}`, key: s.key, baseDir: path.dirname(absPath) };
    if (s.duplicate) return { ...at, error: { reason: 'duplicate_key', detail: `key ${s.key} appears again in the tar (member ${s.duplicate}); the first occurrence is kept` } };
    if (s.tooBig) return { ...at, error: { reason: 'entry_too_large', detail: `${s.tooBig} is over ${MAX_ENTRY_BYTES} bytes` } };
    if (s.images.length > 1) return { ...at, error: { reason: 'ambiguous_image', detail: `key ${s.key} has ${s.images.length} images (${s.images.join(', ')}); a record holds one` } };
    const fields: Record<string, unknown> = { __key__: s.key };
    let sidecar: Record<string, unknown> | undefined;
    for (const [ext, buf] of s.files) {
      if (ext === 'json') {
        try {
          const text = buf.toString('utf8');
          const parsed = JSON.parse(text) as unknown;
          if (nestsDeeperThan(parsed, MAX_DEPTH)) return { ...at, error: { reason: 'too_deep', detail: tooDeepDetail(`${s.key}.json`) } };
          // img2dataset copies LAION's int64 `hash` here: its digits are kept
          const meta = withExactIntegers(text, parsed).value;
          if (meta && typeof meta === 'object' && !Array.isArray(meta)) sidecar = meta as Record<string, unknown>;
        } catch (err) {
          return { ...at, error: { reason: 'invalid_json', detail: `${s.key}.json: ${(err as Error).message}` } };
        }
      } else if (CAPTION_EXT.has(ext)) {
        fields.txt = buf.toString('utf8').replace(/\r?\n$/, ''); // a file's final newline is not caption
      } else if (IMAGE_EXT.has(ext)) {
        fields.image = { bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path: `${s.key}.${ext}` };
      } else if (isText(ext)) {
        fields[ext] = buf.toString('utf8');
      } else {
        // binary (`npy`, `seg.png`, ...): available to --map as bytes, never decoded as text into metadata
        fields[ext] = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      }
    }
    return { ...at, fields, ...(sidecar ? { sidecar } : {}) };
  };
  try {
    for await (const entry of ex) {
      const h = entry.header;
      if (h.type !== 'file') {
        entry.resume();
        continue;
      }
      const { key, ext } = splitKey(h.name);
      if (cur && (cur.key !== key || cur.exts.has(ext))) {
        out.push(emit(cur));
        cur = undefined;
        if (out.length >= SAMPLES || outBytes >= BATCH_BYTES) {
          yield out;
          out = [];
          outBytes = 0;
        }
      }
      if (!cur) {
        cur = { key, files: new Map(), exts: new Set(), images: [] };
        if (seen.has(key)) cur.duplicate = h.name;
        else seen.add(key);
      }
      cur.exts.add(ext);
      if (IMAGE_EXT.has(ext)) cur.images.push(h.name);
      if ((h.size ?? 0) > MAX_ENTRY_BYTES) cur.tooBig ??= h.name;
      // a sample already rejected needs no more bytes
      if (cur.duplicate || cur.tooBig || cur.images.length > 1) {
        cur.files.clear();
        entry.resume();
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const buf = Buffer.concat(chunks);
      outBytes += buf.length;
      cur.files.set(ext, buf);
    }
  } catch (err) {
    // what was read whole before the break is still delivered; the unfinished sample is part of the failure
    if (out.length) yield out;
    // a damaged .tar.gz ends early, and the tar parser then reports a short archive: name the real cause
    throw new UnreadableFileError(relPath, `cannot read tar ${relPath}${cur ? ` after key ${cur.key}` : ''}: ${(src.damage ?? (err as Error)).message}`);
  }
  if (src.damage) {
    // the stream broke where a tar boundary happened to fall: the samples before are whole, the last may not be
    if (out.length) yield out;
    throw new UnreadableFileError(relPath, `cannot read tar ${relPath}${cur ? ` after key ${cur.key}` : ''}: ${src.damage.message}`);
  }
  if (cur) out.push(emit(cur));
  if (out.length) yield out;
};
