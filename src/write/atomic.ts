/**
 * Every output file appears whole or not at all: written under a temporary name in the same folder, then
 * renamed, so a run killed half-way leaves nothing a later stage could mistake for output.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync, rmSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pidAlive } from '../util/pid.js';
import { UsageError } from '../errors.js';
import { isRemote } from '../storage/location.js';
import { putSync } from '../storage/sync.js';

/**
 * An output folder must be a folder: the nearest part of the path that exists must be a directory, or
 * every later mkdir fails with a bare ENOTDIR. Throws a UsageError that names the file in the way.
 */
export function assertOutFolder(out: string, flag = '--out'): void {
  // a bucket prefix is never in the way of anything
  if (isRemote(out)) return;
  for (let p = path.resolve(out); ; p = path.dirname(p)) {
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(p);
    } catch (err) {
      // not there, or under a file (ENOTDIR): look one level up
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    }
    if (st) {
      if (!st.isDirectory()) throw new UsageError(`${flag} ${out}${p === path.resolve(out) ? '' : `: ${p}`} is a file; give a folder`);
      return;
    }
    if (path.dirname(p) === p) return;
  }
}

/** A host name safe in a file name. */
const HOST = os.hostname().replace(/[^A-Za-z0-9_-]/g, '_');

/**
 * Temporary names carry the host and pid of their writer, so a sweep removes only files whose writer is
 * known to be dead: on a shared filesystem other machines' temporaries are live files mid-write.
 */
export function tmpName(file: string): string {
  return `${file}.${HOST}~${process.pid}.tmp`;
}


/** Temporaries of another host are left unless untouched this long (a live writer keeps appending). */
export const FOREIGN_TEMP_AGE_MS = 6 * 3600 * 1000;

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  // an object store's PUT is atomic already: a reader sees the old object or the new one
  if (isRemote(file)) return putSync(file, data);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tmpName(file);
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** Writes a small file durably (markers, plans, manifests): temp file, fsync, rename, fsync of the folder. */
export function writeDurable(file: string, text: string): void {
  if (isRemote(file)) return putSync(file, text);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tmpName(file);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  try {
    const d = openSync(path.dirname(file), 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // some filesystems do not fsync folders; the rename is still atomic
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Removes temporary files a killed writer left under dir: those of this host whose process is gone, and
 * those of other hosts (or of the old `.PID.tmp` naming) untouched for FOREIGN_TEMP_AGE_MS. Never a live
 * writer's file, here or on another machine.
 */
export function sweepTemps(dir: string): number {
  if (isRemote(dir)) return 0;
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return 0;
  }
  let removed = 0;
  const now = Date.now();
  for (const e of entries) {
    if (!e.endsWith('.tmp')) continue;
    const file = path.join(dir, e);
    const m = /\.([A-Za-z0-9_-]+)~(\d+)\.tmp$/.exec(e);
    let stale: boolean;
    if (m && m[1] === HOST) stale = !pidAlive(Number(m[2]));
    else {
      try {
        stale = now - statSync(file).mtimeMs > FOREIGN_TEMP_AGE_MS;
      } catch {
        continue;
      }
    }
    if (stale) {
      rmSync(file, { force: true, recursive: true });
      removed++;
    }
  }
  return removed;
}
