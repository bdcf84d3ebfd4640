/**
 * WebDataset tar shards as img2dataset writes them: a sample's files are contiguous and share a key (the
 * path up to the first dot of the basename): KEY.jpg|png|webp, KEY.txt, KEY.json. Entries are read into
 * memory one sample at a time; their names never reach the file system.
 */
import path from 'node:path';
import { extract } from 'tar-stream';
import { openInput } from './lines.js';
import { UnreadableFileError, type RawItem, type Reader } from './types.js';

/** Samples per batch, and bytes: a batch of large images stays bounded. */
const SAMPLES = 64;
const BATCH_BYTES = 64 * 1024 * 1024;

const MAX_ENTRY_BYTES = 256 * 1024 * 1024;
const IMAGE_EXT = new Set(['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif']);

export function splitKey(name: string): { key: string; ext: string } {
  const dir = path.posix.dirname(name);
  const base = path.posix.basename(name);
  const dot = base.indexOf('.');
  const stem = dot < 0 ? base : base.slice(0, dot);
  return { key: dir === '.' ? stem : `${dir}/${stem}`, ext: dot < 0 ? '' : base.slice(dot + 1).toLowerCase() };
}

export const readWebDataset: Reader = async function* ({ absPath, relPath, onBytes }): AsyncGenerator<RawItem[]> {
  const ex = extract();
  const src = openInput(absPath, onBytes);
  src.on('error', (e) => ex.destroy(e));
  src.pipe(ex);
  let cur: { key: string; files: Map<string, Buffer>; tooBig?: string } | undefined;
  let out: RawItem[] = [];
  let outBytes = 0;
  const emit = (s: NonNullable<typeof cur>): RawItem => {
    const at = { file: relPath, location: `key ${s.key}`, key: s.key, baseDir: path.dirname(absPath) };
    if (s.tooBig) return { ...at, error: { reason: 'entry_too_large', detail: `${s.tooBig} is over ${MAX_ENTRY_BYTES} bytes` } };
    const fields: Record<string, unknown> = { __key__: s.key };
    for (const [ext, buf] of s.files) {
      if (ext === 'json') {
        try {
          const meta = JSON.parse(buf.toString('utf8')) as unknown;
          if (meta && typeof meta === 'object' && !Array.isArray(meta)) Object.assign(fields, { json: meta });
        } catch (err) {
          return { ...at, error: { reason: 'invalid_json', detail: `${s.key}.json: ${(err as Error).message}` } };
        }
      } else if (ext === 'txt' || ext === 'caption' || ext === 'text') {
        fields.txt = buf.toString('utf8');
      } else if (IMAGE_EXT.has(ext)) {
        fields.image = { bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path: `${s.key}.${ext}` };
      } else {
        fields[ext] = buf.toString('utf8');
      }
    }
    return { ...at, fields };
  };
  try {
    for await (const entry of ex) {
      const h = entry.header;
      if (h.type !== 'file') {
        entry.resume();
        continue;
      }
      const { key, ext } = splitKey(h.name);
      if (cur && cur.key !== key) {
        out.push(emit(cur));
        cur = undefined;
        if (out.length >= SAMPLES || outBytes >= BATCH_BYTES) {
          yield out;
          out = [];
          outBytes = 0;
        }
      }
      cur ??= { key, files: new Map() };
      if ((h.size ?? 0) > MAX_ENTRY_BYTES) {
        cur.tooBig = h.name;
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
    throw new UnreadableFileError(relPath, `cannot read tar ${relPath}${cur ? ` after key ${cur.key}` : ''}: ${(err as Error).message}`);
  }
  if (cur) out.push(emit(cur));
  if (out.length) yield out;
};
