/**
 * Every output file appears whole or not at all: written under a temporary name in the same folder, then
 * renamed, so a run killed half-way leaves nothing a later stage could mistake for output.
 */
import { mkdirSync, renameSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import path from 'node:path';

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
