/**
 * The coreset's intermediate files (under OUT/_work/coreset) and their column layouts: what each
 * task writes and the next one reads. Everything here is derived from the task spec, so a task on
 * another machine finds its inputs the same way.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../write/atomic.js';
import type { CoresetConfig } from './config.js';
import type { SourceSpec } from './source.js';
import type { ColSpec } from './spill.js';

/** What every coreset task receives (JSON: tasks may run in workers or elsewhere). */
export interface CoresetTaskSpec {
  step: 'assign' | 'dedup' | 'write';
  source: SourceSpec;
  cfg: CoresetConfig;
  work: string;
  k: number;
  buckets: number;
  /** write step: the output's extra settings (see command.ts). */
  write?: unknown;
}

export const STATUS = { candidate: 0, near_duplicate: 1, invalid_embedding: 2, missing_clip_score: 3 } as const;

export const paths = {
  work: (out: string) => path.join(out, '_work', 'coreset'),
  centroids: (work: string) => path.join(work, 'centroids.npy'),
  assign: (work: string, part: number) => path.join(work, 'assign', `part-${pad(part)}.bin`),
  invalid: (work: string, part: number) => path.join(work, 'rows', `invalid-${pad(part)}.bin`),
  rows: (work: string, bucket: number) => path.join(work, 'rows', `bucket-${pad(bucket)}.bin`),
  sampleLabels: (work: string) => path.join(work, 'sample-labels.bin'),
  /** Small state kept with the task markers (`_work` is removed after a successful run). */
  state: (out: string) => path.join(out, '_tasks', 'coreset'),
  /** The band cuts and per-step counts (bands step): what every write task applies. */
  cuts: (out: string) => path.join(out, '_tasks', 'coreset', 'cuts.json'),
};

function pad(n: number): string {
  return String(n).padStart(5, '0');
}

/** Files holding row results for any part: every dedup bucket plus every part's invalid rows. */
export function rowFiles(spec: CoresetTaskSpec): string[] {
  const files: string[] = [];
  for (let b = 0; b < spec.buckets; b++) files.push(paths.rows(spec.work, b));
  for (let p = 0; p < spec.source.parts.length; p++) files.push(paths.invalid(spec.work, p));
  return files;
}

/** Ids travel through the shuffle only for datasets (LAION-layout ids are derived from the row). */
export function carriesIds(spec: { source: SourceSpec }): boolean {
  return spec.source.layout === 'dataset';
}

/**
 * Whether the embeddings travel through the shuffle. .npy parts are random-access, so the dedup tasks
 * read their rows straight from the input (no second copy on disk); Parquet shards are not.
 */
export function spillsEmbeddings(spec: CoresetTaskSpec): boolean {
  return !!spec.cfg.dedup && spec.source.layout === 'dataset';
}

/** Columns of the assign -> dedup shuffle (keyed by bucket of clusters). */
export function assignColumns(spec: CoresetTaskSpec): ColSpec[] {
  const c: ColSpec[] = [
    { name: 'row', type: 'f64' },
    { name: 'score', type: 'f64' },
    { name: 'sim', type: 'f32' },
    { name: 'inv', type: 'f32' },
    { name: 'cluster', type: 'i32' },
  ];
  if (spillsEmbeddings(spec)) c.push({ name: 'emb', type: 'u16', width: spec.source.dim });
  if (carriesIds(spec)) c.push({ name: 'id', type: 'i32', width: 4 });
  return c;
}

/** Columns of the row results (keyed by input part): one record per input row. */
export function rowColumns(spec: { source: SourceSpec }): ColSpec[] {
  const c: ColSpec[] = [
    { name: 'row', type: 'f64' },
    { name: 'dupRow', type: 'f64' },
    { name: 'score', type: 'f64' },
    { name: 'sim', type: 'f32' },
    { name: 'cluster', type: 'i32' },
    { name: 'status', type: 'i32' },
  ];
  if (carriesIds(spec)) c.push({ name: 'dupId', type: 'i32', width: 4 });
  return c;
}

export function bucketOf(cluster: number, k: number, buckets: number): number {
  return Math.floor((cluster * buckets) / k);
}

/** Clusters [start, end) of bucket b. */
export function bucketClusters(b: number, k: number, buckets: number): [number, number] {
  return [Math.ceil((b * k) / buckets), Math.ceil(((b + 1) * k) / buckets)];
}

/** Enough buckets that one holds about `bucketBytes` of float16 embeddings (at most one per cluster). */
export function bucketCount(total: number, dim: number, k: number, bucketBytes: number): number {
  return Math.max(1, Math.min(k, Math.ceil((total * dim * 2) / bucketBytes)));
}

/** 32 hex chars -> 4 int32 (the id column of a dataset, carried through the shuffle). */
export function packId(id: string, out: Int32Array, at: number): void {
  if (!/^[0-9a-f]{32}$/.test(id)) throw new UsageError(`id ${JSON.stringify(id)} is not 32 lowercase hex characters; the input was not written by mmcurate`);
  for (let w = 0; w < 4; w++) out[at + w] = parseInt(id.slice(w * 8, w * 8 + 8), 16) | 0;
}

export function unpackId(words: Int32Array, at: number): string {
  let s = '';
  for (let w = 0; w < 4; w++) s += (words[at + w] >>> 0).toString(16).padStart(8, '0');
  return s;
}

/**
 * Training rows whose final cluster the k-means bounds already prove (global row, ascending, and
 * cluster): the assign tasks skip their search. Binary: count (u32), rows (f64), clusters (i32).
 */
export function writeSampleLabels(work: string, rows: Float64Array, labels: Int32Array): void {
  let n = 0;
  for (const l of labels) if (l >= 0) n++;
  const buf = new Uint8Array(8 + n * 12); // fresh buffer: the typed views below need alignment
  new DataView(buf.buffer).setUint32(0, n, true);
  const r = new Float64Array(buf.buffer, 8, n);
  const c = new Int32Array(buf.buffer, 8 + n * 8, n);
  for (let i = 0, j = 0; i < labels.length; i++) {
    if (labels[i] < 0) continue;
    r[j] = rows[i];
    c[j++] = labels[i];
  }
  writeFileAtomic(paths.sampleLabels(work), buf);
}

/** The proven labels of rows [from, to), as a map row -> cluster (empty when there are none). */
export function readSampleLabels(work: string, from: number, to: number): Map<number, number> {
  const m = new Map<number, number>();
  const file = paths.sampleLabels(work);
  if (!existsSync(file)) return m;
  const b = readFileSync(file);
  const n = b.readUInt32LE(0);
  const copy = new Uint8Array(n * 12);
  copy.set(b.subarray(8, 8 + n * 12));
  const r = new Float64Array(copy.buffer, 0, n);
  const c = new Int32Array(copy.buffer, n * 8, n);
  for (let i = 0; i < n; i++) if (r[i] >= from && r[i] < to) m.set(r[i], c[i]);
  return m;
}
