/**
 * Does a dataset folder hold what its manifest says? Every listed shard must exist with the listed size,
 * sha256 and row count (read from the Parquet footer), no unlisted shard may sit in data/, and the reject
 * files must hold the listed number of lines. The audit reports every disagreement; `mix` refuses an input
 * that has any.
 */
import { existsSync as fsExists, statSync as fsStat } from 'node:fs';
import * as storage from '../storage/index.js';
import { existsSync, listSync, readTextSync, sizeSync } from '../storage/sync.js';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { UsageError, errorMessage } from '../errors.js';
import { outsideFolder } from '../io/dataset.js';
import { openParquet } from '../io/parquet.js';
import type { Manifest } from '../write/manifest.js';

export interface ShardCheck {
  path: string;
  listed: boolean;
  present: boolean;
  rows?: number;
  bytes?: number;
  sha256?: string;
}

export interface Verification {
  dir: string;
  manifest: Manifest;
  shards: ShardCheck[];
  /** One sentence per disagreement, naming the file and both values. */
  problems: string[];
}

/** Reads DIR/manifest.json; a folder without one is not an mmcurate output (exit 2). */
export function readManifest(dir: string, flag = '--input'): Manifest {
  // a bucket prefix (s3://…) is a folder when it holds a manifest
  if (!storage.isRemote(dir) && (!fsExists(dir) || !fsStat(dir).isDirectory())) throw new UsageError(`${flag} ${dir}: no such folder`);
  const file = path.join(dir, 'manifest.json');
  const text = readTextSync(file);
  if (text === undefined) {
    throw new UsageError(`${flag} ${dir}: not an mmcurate output (no manifest.json); point at the --out folder of a finished mmcurate stage`);
  }
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${errorMessage(err)})`);
  }
  if (!m || !Array.isArray(m.shards) || typeof m.layout !== 'string') throw new UsageError(`${file}: not an mmcurate manifest (no shards or layout)`);
  return m;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of storage.stream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function listParquet(dir: string): string[] {
  const data = path.join(dir, 'data');
  const base = storage.isRemote(dir) ? storage.join(data) : data;
  return listSync(data)
    .map((e) => e.loc.slice(base.length + 1))
    .filter((f) => f.endsWith('.parquet'))
    .map((f) => path.posix.join('data', f.split(path.sep).join('/')))
    .sort();
}

function countLines(file: string): number {
  const text = readTextSync(file) ?? '';
  let n = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  if (text.length > 0 && !text.endsWith('\n')) n++;
  return n;
}

/**
 * Checks a dataset folder against its manifest.
 * @param opts.sha256 hash every shard (default true; reads every byte once).
 */
export async function verifyDataset(dir: string, opts: { flag?: string; sha256?: boolean } = {}): Promise<Verification> {
  const manifest = readManifest(dir, opts.flag);
  const problems: string[] = [];
  const shards: ShardCheck[] = [];
  const listed = new Set<string>();
  for (const s of manifest.shards) {
    listed.add(s.path);
    const outside = outsideFolder(s.path);
    if (outside) {
      problems.push(`${String(s.path)}: listed in the manifest as a shard but ${outside}; a manifest lists only files under its own folder (${dir}), so the shard was not read`);
      shards.push({ path: String(s.path), listed: true, present: false });
      continue;
    }
    const file = path.join(dir, s.path);
    const bytes = sizeSync(file);
    if (bytes === undefined) {
      problems.push(`${s.path}: listed in the manifest but missing`);
      shards.push({ path: s.path, listed: true, present: false });
      continue;
    }
    const check: ShardCheck = { path: s.path, listed: true, present: true, bytes };
    shards.push(check);
    if (check.bytes !== s.bytes) problems.push(`${s.path}: ${check.bytes} bytes, the manifest says ${s.bytes}`);
    if (opts.sha256 !== false) {
      check.sha256 = await sha256File(file);
      if (check.sha256 !== s.sha256) problems.push(`${s.path}: sha256 ${check.sha256.slice(0, 16)}…, the manifest says ${String(s.sha256).slice(0, 16)}…`);
    }
    try {
      check.rows = (await openParquet(file)).rows;
      if (check.rows !== s.rows) problems.push(`${s.path}: ${check.rows} rows, the manifest says ${s.rows}`);
    } catch (err) {
      problems.push(`${s.path}: not a readable Parquet file (${errorMessage(err)})`);
    }
  }
  for (const p of listParquet(dir)) {
    if (listed.has(p)) continue;
    problems.push(`${p}: a shard in data/ that the manifest does not list`);
    shards.push({ path: p, listed: false, present: true, bytes: sizeSync(path.join(dir, p)) });
  }
  const claimed = manifest.shards.reduce((a, s) => a + s.rows, 0);
  if (typeof manifest.rows === 'number' && manifest.rows !== claimed) problems.push(`manifest.json: rows is ${manifest.rows} but its shards add up to ${claimed}`);
  for (const r of manifest.rejects ?? []) {
    const outside = outsideFolder(r.path);
    if (outside) {
      problems.push(`${String(r.path)}: listed in the manifest as a rejects file but ${outside}; a manifest lists only files under its own folder (${dir}), so it was not read`);
      continue;
    }
    const file = path.join(dir, r.path);
    if (!existsSync(file)) {
      problems.push(`${r.path}: listed in the manifest but missing`);
      continue;
    }
    const n = countLines(file);
    if (n !== r.rows) problems.push(`${r.path}: ${n} rejects, the manifest says ${r.rows}`);
  }
  return { dir, manifest, shards, problems };
}
