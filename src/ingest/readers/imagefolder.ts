/** A folder of images, each captioned by a same-named `.txt` beside it (`cat.jpg` + `cat.txt`). */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { BATCH, type RawItem, type Reader } from './types.js';

export const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|avif)$/i;

/**
 * Every file under `dir`, relative to it, sorted. Symbolic links are followed, to files and to folders (a
 * folder of links to shards kept elsewhere is common). A folder is read once, by its real path: the real
 * folders first, then the linked ones, so a folder reached both ways keeps its own name; a link to a folder
 * read already, or to one that holds `dir` (a loop), is skipped with a warning on stderr, and so is a broken
 * link (warnings unless `quiet`).
 */
export async function listFiles(dir: string, opts: { quiet?: boolean } = {}): Promise<string[]> {
  const warn = (msg: string): void => {
    if (!opts.quiet) process.stderr.write(`warning: ${msg}\n`);
  };
  const out: string[] = [];
  const rootReal = await realpath(dir);
  /** Real path of every folder read → the name it was read under. */
  const read = new Map<string, string>();
  const links: { abs: string; rel: string }[] = [];
  const walk = async (abs: string, rel: string, real: string): Promise<void> => {
    read.set(real, rel || '.');
    const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const childAbs = path.join(abs, e.name);
      const childRel = rel ? path.join(rel, e.name) : e.name;
      if (e.isFile()) out.push(childRel);
      else if (e.isDirectory()) {
        const childReal = path.join(real, e.name);
        if (!read.has(childReal)) await walk(childAbs, childRel, childReal);
      } else if (e.isSymbolicLink()) links.push({ abs: childAbs, rel: childRel });
    }
  };
  await walk(dir, '', rootReal);
  // links found while reading linked folders join the queue
  for (let i = 0; i < links.length; i++) {
    const { abs, rel } = links[i]!;
    let st;
    let real;
    try {
      st = await stat(abs);
      real = await realpath(abs);
    } catch (err) {
      warn(`skipping ${abs}: a broken symbolic link (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      continue;
    }
    if (st.isFile()) out.push(rel);
    else if (!st.isDirectory()) continue;
    else if (real === rootReal || rootReal.startsWith(real + path.sep)) warn(`skipping ${abs}: a symbolic link to ${real}, which holds ${dir} (a loop)`);
    else if (read.has(real)) warn(`skipping ${abs}: a symbolic link to ${real}, read already as ${path.join(dir, read.get(real)!)}`);
    else await walk(abs, rel, real);
  }
  return out.sort();
}

export const readImageFolder: Reader = async function* ({ absPath, relPath, onBytes }): AsyncGenerator<RawItem[]> {
  // detect.ts listed this folder already and warned of its broken links
  const files = await listFiles(absPath, { quiet: true });
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
    // editors end a file with a newline; it is not part of the caption
    const caption = (await readFile(path.join(absPath, txt), 'utf8')).replace(/\r?\n$/, '');
    onBytes(caption.length);
    out.push({ ...at, fields: { image: f, caption } });
  }
  if (out.length) yield out;
};
