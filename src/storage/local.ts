/** Local paths: exactly the file system calls the pipeline made before storage became a URL. */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat, copyFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Backend, Entry } from './backend.js';

export const local: Backend = {
  async size(loc) {
    try {
      const st = await stat(loc);
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  },

  stream(loc: string, start = 0, end?: number): Readable {
    return createReadStream(loc, { highWaterMark: 1 << 20, start, ...(end !== undefined ? { end: end - 1 } : {}) });
  },

  async read(loc, start, end) {
    const out = new Uint8Array(Math.max(0, end - start));
    const fh = await open(loc, 'r');
    try {
      for (let off = 0; off < out.length; ) {
        const { bytesRead } = await fh.read(out, off, out.length - off, start + off);
        if (bytesRead === 0) throw new Error(`${loc} ends at byte ${start + off}, expected ${end} (truncated while being read?)`);
        off += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return out;
  },

  async list(dir) {
    let names: string[];
    try {
      names = (await readdir(dir, { recursive: true })) as string[];
    } catch {
      return [];
    }
    const out: Entry[] = [];
    for (const n of names.sort()) {
      const st = await stat(path.join(dir, n)).catch(() => undefined);
      if (st?.isFile()) out.push({ loc: path.join(dir, n), size: st.size });
    }
    return out;
  },

  async put(loc, data) {
    await mkdir(path.dirname(loc), { recursive: true });
    const tmp = `${loc}.${process.pid}.put.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, loc);
  },

  async putFile(loc, file) {
    if (path.resolve(loc) === path.resolve(file)) return;
    await mkdir(path.dirname(loc), { recursive: true });
    const tmp = `${loc}.${process.pid}.put.tmp`;
    await copyFile(file, tmp);
    await rename(tmp, loc);
  },

  async putIfAbsent(loc, data) {
    await mkdir(path.dirname(loc), { recursive: true });
    try {
      await writeFile(loc, data, { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  },

  async remove(loc) {
    await rm(loc, { force: true });
  },
};
