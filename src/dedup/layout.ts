/**
 * The dedup stage's task spec and intermediate files (under OUT/_work/dedup), derived from the spec alone so
 * a task on another machine finds its inputs the same way. Parts are the input shards, in the global order
 * rows are ranked by: input order (--input as given), then shard (manifest order), then row.
 */
import path from 'node:path';
import type { ColSpec } from '../coreset/spill.js';
import type { DedupLayout, ExactMode } from './normalize.js';
import type { Compression } from '../write/compression.js';

export interface DedupPart {
  /** Index of the --input the shard belongs to. */
  input: number;
  /** The shard's path relative to its input folder (as its manifest lists it). */
  file: string;
  /** Absolute path. */
  path: string;
  rows: number;
  /** Global index of the shard's first row. */
  base: number;
}

export interface NearParams {
  ngram: number;
  bands: number;
  rows: number;
  threshold: number;
  seed: number;
  /** How a candidate pair is confirmed: exact Jaccard of shingle sets, the signatures' estimate, or not at all. */
  verify: 'exact' | 'signature' | 'none';
  /** At most this many representatives per band bucket each member is compared with. */
  maxReps: number;
}

export interface DedupSpec {
  step: 'hash' | 'resolve' | 'sign' | 'bands' | 'components' | 'write';
  work: string;
  inputs: string[];
  parts: DedupPart[];
  layout: DedupLayout;
  /** exact: the key mode; near: what the text is (text, caption, interleaved). */
  exact?: ExactMode;
  near?: { what: string; params: NearParams };
  buckets: number;
  write: { columns: string[]; kv: Record<string, unknown>; maxShardRows?: number; compression?: Compression };
}

export function pad(n: number): string {
  return String(n).padStart(5, '0');
}

export const paths = {
  work: (out: string) => path.join(out, '_work', 'dedup'),
  hash: (work: string, p: number) => path.join(work, 'hash', `part-${pad(p)}.bin`),
  resolve: (work: string, b: number) => path.join(work, 'drops', `bucket-${pad(b)}.bin`),
  bands: (work: string, p: number) => path.join(work, 'bands', `part-${pad(p)}.bin`),
  ids: (work: string, p: number) => path.join(work, 'docs', `part-${pad(p)}.ids`),
  shingles: (work: string, p: number) => path.join(work, 'docs', `part-${pad(p)}.shingles`),
  offsets: (work: string, p: number) => path.join(work, 'docs', `part-${pad(p)}.offsets`),
  sigs: (work: string, p: number) => path.join(work, 'docs', `part-${pad(p)}.sigs`),
  pairs: (work: string, b: number) => path.join(work, 'pairs', `bucket-${pad(b)}.f64`),
  components: (work: string) => path.join(work, 'drops', 'components.bin'),
};

/** exact hash -> resolve: the key's first 128 bits, the global row, the row's id (named by its duplicates). */
export const HASH_COLS: ColSpec[] = [
  { name: 'key', type: 'i32', width: 4 },
  { name: 'row', type: 'f64' },
  { name: 'id', type: 'i32', width: 4 },
];

/** near sign -> bands: band index and its 64-bit key, and the global row. */
export const BAND_COLS: ColSpec[] = [
  { name: 'key', type: 'i32', width: 3 },
  { name: 'row', type: 'f64' },
];

/** resolve/components -> write, keyed by part: a dropped row, the row it duplicates, its component, that row's id. */
export const DROP_COLS: ColSpec[] = [
  { name: 'row', type: 'f64' },
  { name: 'dup', type: 'f64' },
  { name: 'comp', type: 'f64' },
  { name: 'dupId', type: 'i32', width: 4 },
];

/** The part holding global row `row` (binary search over the parts' bases). */
export function partOf(parts: readonly DedupPart[], row: number): number {
  let lo = 0;
  let hi = parts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (parts[mid]!.base <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A spill file and its index, relative to the stage folder (a marker's intermediate files). */
export function spillFiles(outDir: string, file: string): string[] {
  const rel = path.relative(outDir, file);
  return [rel, `${rel}.idx.json`];
}
