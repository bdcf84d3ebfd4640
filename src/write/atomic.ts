/**
 * Every output file appears whole or not at all: written under a temporary name in the same folder, then
 * renamed, so a run killed half-way leaves nothing a later stage could mistake for output.
 */
import { mkdirSync, renameSync, writeFileSync, rmSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';

/**
 * An output folder must be a folder: the nearest part of the path that exists must be a directory, or
 * every later mkdir fails with a bare ENOTDIR. Throws a UsageError that names the file in the way.
 */
export function assertOutFolder(out: string, flag = '--out'): void {
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

export function tmpName(file: string): string {
  return `${file}.${process.pid}.tmp`;
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tmpName(file);
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** Temporary files a killed run left behind; removed before a stage starts again. */
export function removeStaleTemps(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return;
  }
  for (const e of entries) if (e.endsWith('.tmp')) rmSync(path.join(dir, e), { force: true });
}
