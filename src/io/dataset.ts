/**
 * Opens a dataset folder that an mmcurate stage wrote and streams its rows back in row-group batches.
 * Every later stage (score, coreset, mix, audit) reads its input through here.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isRemote, join, redact } from '../storage/index.js';
import { listSync, readTextSync } from '../storage/sync.js';
import { UsageError } from '../errors.js';
import type { Manifest } from '../write/manifest.js';
import { openParquet, readRowGroup, slices } from './parquet.js';

export interface Dataset {
  dir: string;
  manifest: Manifest;
  /** Absolute shard paths, in manifest order. */
  shardPaths: string[];
}

/**
 * Why a manifest's file path does not name a file inside the dataset folder, or undefined when it does. A
 * manifest lists its own files (`data/…`, `rejects/…`); a path that leaves the folder (`../other/data/…`,
 * an absolute path) would make the folder agree with files it does not hold.
 */
export function outsideFolder(p: unknown): string | undefined {
  if (typeof p !== 'string' || p === '') return 'not a path';
  if (path.isAbsolute(p) || path.win32.isAbsolute(p)) return 'an absolute path';
  const norm = path.posix.normalize(p.split('\\').join('/'));
  if (norm === '.') return 'the dataset folder itself, not a file in it';
  if (norm === '..' || norm.startsWith('../')) return 'outside the dataset folder';
  return undefined;
}

export function openDataset(dir: string, flag = '--input'): Dataset {
  if (isRemote(dir)) return openRemote(dir, flag);
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(dir)) throw new UsageError(`${flag} ${dir}: no such folder`);
  if (!existsSync(file)) {
    throw new UsageError(`${flag} ${dir}: not an mmcurate output (no manifest.json); run \`mmcurate ingest\` on raw data first, or point at the --out folder of a finished stage`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(manifest.shards) || typeof manifest.layout !== 'string') throw new UsageError(`${file}: not an mmcurate manifest (no shards or layout)`);
  const shardPaths = manifest.shards.map((s) => {
    const outside = outsideFolder(s.path);
    if (outside) throw new UsageError(`${flag} ${dir}: the manifest lists the shard ${String(s.path)}, which is ${outside}; a manifest lists only files under its own folder`);
    const p = path.join(dir, s.path);
    if (!existsSync(p)) throw new UsageError(`${flag} ${dir}: the manifest lists ${s.path} but the file is missing`);
    if (statSync(p).size !== s.bytes) throw new UsageError(`${flag} ${dir}: ${s.path} has ${statSync(p).size} bytes but the manifest says ${s.bytes}`);
    return p;
  });
  return { dir, manifest, shardPaths };
}

/**
 * A dataset in a bucket (or on the Hub): the manifest read whole, the shard sizes from one listing of
 * `data/` (not one request per shard). Shards stay remote; readBatches reads them by ranges.
 */
function openRemote(dir: string, flag: string): Dataset {
  const file = join(dir, 'manifest.json');
  const text = readTextSync(file);
  if (text === undefined) {
    throw new UsageError(`${flag} ${redact(dir)}: not an mmcurate output (no manifest.json); run \`mmcurate ingest\` on raw data first, or point at the --out of a finished stage`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (err) {
    throw new UsageError(`${redact(file)}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(manifest.shards) || typeof manifest.layout !== 'string') throw new UsageError(`${redact(file)}: not an mmcurate manifest (no shards or layout)`);
  const sizes = new Map(listSync(join(dir)).map((e) => [e.loc, e.size]));
  const shardPaths = manifest.shards.map((s) => {
    const outside = outsideFolder(s.path);
    if (outside) throw new UsageError(`${flag} ${redact(dir)}: the manifest lists the shard ${String(s.path)}, which is ${outside}; a manifest lists only files under its own folder`);
    const p = join(dir, s.path);
    const n = sizes.get(p);
    if (n === undefined) throw new UsageError(`${flag} ${redact(dir)}: the manifest lists ${s.path} but the object is missing`);
    if (n !== s.bytes) throw new UsageError(`${flag} ${redact(dir)}: ${s.path} has ${n} bytes but the manifest says ${s.bytes}`);
    return p;
  });
  return { dir, manifest, shardPaths };
}

export interface RowBatch {
  shard: string;
  /** Index of the first row of this batch within its shard. */
  offset: number;
  rows: Record<string, unknown>[];
}

/** Streams the dataset in batches of at most `batchRows` rows; `columns` limits what is decoded. */
export async function* readBatches(ds: Dataset, opts: { columns?: string[]; batchRows?: number; shards?: number[] } = {}): AsyncGenerator<RowBatch> {
  const which = opts.shards ?? ds.shardPaths.map((_, i) => i);
  for (const i of which) {
    const p = ds.shardPaths[i]!;
    const pf = await openParquet(p);
    for (const g of pf.groups) {
      for (const s of slices(g, opts.batchRows ?? 4096)) {
        yield { shard: ds.manifest.shards[i]!.path, offset: s.start, rows: await readRowGroup(pf, s, opts.columns) };
      }
    }
  }
}
