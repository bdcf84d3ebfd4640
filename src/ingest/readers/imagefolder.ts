/** A folder of images, each captioned by a same-named `.txt` beside it (`cat.jpg` + `cat.txt`). */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { BATCH, type RawItem, type Reader } from './types.js';

export const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|avif)$/i;

export async function listFiles(dir: string): Promise<string[]> {
  const entries = (await readdir(dir, { recursive: true, withFileTypes: true })) as unknown as { name: string; parentPath?: string; path?: string; isFile(): boolean }[];
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path ?? dir, e.name)))
    .sort();
}

export const readImageFolder: Reader = async function* ({ absPath, relPath, onBytes }): AsyncGenerator<RawItem[]> {
  const files = await listFiles(absPath);
  const have = new Set(files);
  let out: RawItem[] = [];
  for (const f of files) {
    if (out.length >= BATCH) {
      yield out;
      out = [];
    }
    if (!IMAGE_FILE.test(f)) continue;
    const txt = f.replace(/\.[^.]+$/, '.txt');
    const at = { file: path.join(relPath, f), location: `image ${f}`, key: f, baseDir: absPath };
    if (!have.has(txt)) {
      out.push({ ...at, error: { reason: 'missing_caption', detail: `no ${txt} beside ${f}` } });
      continue;
    }
    const caption = await readFile(path.join(absPath, txt), 'utf8');
    onBytes(caption.length);
    out.push({ ...at, fields: { image: f, caption } });
  }
  if (out.length) yield out;
};
