/**
 * Reads the local image files that records name, and only those a user meant to hand over. A record's path
 * is data, not a command: left alone, `../../secret.png`, `/etc/passwd` or `/dev/zero` would copy a file from
 * anywhere into a shard, leak whether a path exists, grow memory without bound, or (a FIFO) hang the run.
 *
 * The rules:
 * - A path must lie inside its root folder: the input file's folder (or the folder relative paths resolve
 *   against, see map.ts), or `--image-root`. The check is made before the file system is asked anything, so
 *   a path outside is `image_path_outside` whether it exists or not. `--allow-paths-outside` lifts it.
 * - A symbolic link is followed only when its real path lies inside the root's real path too; a link
 *   pointing out is `image_path_outside`, dangling or not.
 * - Only a regular file is read (`image_not_a_file` for a folder, FIFO, socket or device), checked with
 *   fstat on the opened descriptor, opened non-blocking so that opening a FIFO cannot hang.
 * - At most `maxBytes` are read (`image_too_large`): a file that claims fewer bytes and keeps giving more
 *   (`/proc`, a file growing) is cut off there too.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Bytes one image file may have (`--max-image-mb`): far above any web image, low enough that 16 in flight fit in memory. */
export const DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024;

export interface LocalFileRules {
  /** The folder paths must stay inside (absolute); absent: no confinement (`--allow-paths-outside`). */
  root?: string;
  maxBytes: number;
}

export type LocalFileFailure = { reason: 'image_missing' | 'image_path_outside' | 'image_not_a_file' | 'image_too_large'; detail: string };

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;

/** Real paths of folders seen, so most images cost one open and one fstat. Bounded; cleared when full. */
const realDirs = new Map<string, Promise<string>>();
const REAL_DIRS_MAX = 16_384;

function realDir(dir: string): Promise<string> {
  let p = realDirs.get(dir);
  if (!p) {
    if (realDirs.size >= REAL_DIRS_MAX) realDirs.clear();
    p = realpathMissing(dir);
    realDirs.set(dir, p);
    // a failure is not remembered: the next record asks again
    p.catch(() => realDirs.delete(dir));
  }
  return p;
}

/**
 * The real path of `p`, following symbolic links, where the part of it that does not exist is taken as
 * written (`realpath -m`): a missing file is placed where it would be, so whether a path lies inside its
 * root never depends on whether the file exists.
 */
async function realpathMissing(p: string, hops = 0): Promise<string> {
  if (hops > 40) throw Object.assign(new Error('too many levels of symbolic links'), { code: 'ELOOP' });
  try {
    return await realpath(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
  const parent = path.dirname(p);
  if (parent === p) return p;
  const realParent = await realpathMissing(parent, hops);
  let st: Stats | undefined;
  try {
    st = await lstat(p);
  } catch {
    st = undefined;
  }
  // a dangling link: where it points decides, not that its target is missing
  if (st?.isSymbolicLink()) return realpathMissing(path.resolve(realParent, await readlink(p)), hops + 1);
  return path.join(realParent, path.basename(p));
}

export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel));
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

function size(bytes: number): string {
  return bytes < 2 ** 20 ? `${bytes} bytes` : `${+(bytes / 2 ** 20).toFixed(2)} MiB`;
}

/**
 * Reads the file at `rel` (resolved against `base`) under the rules above. `rel` is what the record says,
 * and what messages quote; nothing outside the root is named in them.
 */
export async function readLocalFile(base: string, rel: string, rules: LocalFileRules): Promise<Buffer | LocalFileFailure> {
  const abs = path.resolve(base, rel);
  const root = rules.root;
  const outside = (): LocalFileFailure => ({
    reason: 'image_path_outside',
    detail: `${rel}: outside ${root}, the folder image paths must stay in (--image-root DIR sets it, --allow-paths-outside lifts the rule)`,
  });
  let target = abs;
  let flags = constants.O_RDONLY | O_NONBLOCK;
  let realRoot: string | undefined;
  if (root) {
    if (!isInside(root, abs)) return outside();
    try {
      realRoot = await realDir(root);
      target = path.join(await realDir(path.dirname(abs)), path.basename(abs));
    } catch (err) {
      return { reason: 'image_missing', detail: `${rel}: ${(err as Error).message}` };
    }
    if (!isInside(realRoot, target)) return outside();
    // the folders are resolved; a link as the file itself is refused by the open, then resolved below
    flags |= O_NOFOLLOW;
  }
  let fh: FileHandle;
  try {
    fh = await open(target, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (root && code === 'ELOOP') {
      // the file is a symbolic link: followed only to a real path inside the root (dangling or not)
      let real: string;
      try {
        real = await realpathMissing(target);
      } catch (e) {
        return { reason: 'image_missing', detail: `${rel}: ${(e as Error).message}` };
      }
      if (!isInside(realRoot!, real)) return outside();
      try {
        fh = await open(real, flags);
      } catch (e) {
        return openFailure(rel, e);
      }
    } else return openFailure(rel, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { reason: 'image_not_a_file', detail: `${rel} is ${kindOf(st)}, not a regular file` };
    if (st.size > rules.maxBytes) return tooLarge(rel, st.size, rules.maxBytes);
    return await readCapped(fh, st.size, rel, rules.maxBytes);
  } finally {
    await fh.close();
  }
}

function tooLarge(rel: string, bytes: number | undefined, max: number): LocalFileFailure {
  const was = bytes === undefined ? `gave more than ${size(max)}` : `is ${size(bytes)}`;
  return { reason: 'image_too_large', detail: `${rel} ${was}, over the limit of ${size(max)} per image file (--max-image-mb)` };
}

function openFailure(rel: string, err: unknown): LocalFileFailure {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENXIO') return { reason: 'image_not_a_file', detail: `${rel} is a socket or a device without a reader, not a regular file` };
  return { reason: 'image_missing', detail: `${rel}: ${code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : code === 'ELOOP' ? 'a symbolic link that changed while it was read' : (err as Error).message}` };
}

/** Reads to the end, but never more than `max` bytes: the size fstat gave is a hint (0 for /proc files). */
async function readCapped(fh: FileHandle, size: number, rel: string, max: number): Promise<Buffer | LocalFileFailure> {
  // one byte more than expected, so the end of the file is seen in the same read
  let buf = Buffer.allocUnsafe(Math.min(size > 0 ? size : 64 * 1024, max) + 1);
  let n = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
    if (bytesRead === 0) break;
    n += bytesRead;
    if (n > max) return tooLarge(rel, undefined, max);
    if (n === buf.length) {
      const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, max + 1));
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
    }
  }
  return buf.subarray(0, n);
}
