/**
 * manifest.json: what a stage wrote and how every input record was accounted for. Written last and
 * atomically, so its presence means the dataset is complete. Later stages and the audit start here.
 */
import { readTextSync } from '../storage/sync.js';
import path from 'node:path';
import type { Kind, Layout } from '../records.js';
import { VERSION } from '../version.js';
import { mergeStats, rejectsByReason, totals, type Stats } from './accounting.js';
import { writeDurable, writeJsonAtomic } from './atomic.js';
import type { ShardInfo } from './shard-writer.js';
import { rejectFiles, type TaskResult } from '../run/contract.js';

export interface Step {
  name: string;
  in: number;
  out: number;
}

export interface Manifest {
  mmcurate: string;
  stage: string;
  layout: Layout;
  command: string[];
  read: number;
  rows: number;
  rejected: number;
  kinds: Partial<Record<Kind, number>>;
  sources: Stats;
  rejected_by_reason: Record<string, number>;
  shards: ShardInfo[];
  rejects: { path: string; rows: number }[];
  columns: string[];
  steps: Step[];
  tasks: { world: number };
  /** Stage-specific: the inputs, the model, the recipe, per-step details... */
  [extra: string]: unknown;
}

export interface ManifestInput {
  stage: string;
  layout: Layout;
  command: string[];
  results: TaskResult[];
  columns: string[];
  steps?: Step[];
  /** Rows per kind; defaults to all rows under the layout's kind. */
  kinds?: Partial<Record<Kind, number>>;
  extra?: Record<string, unknown>;
}

export function buildManifest(m: ManifestInput): Manifest {
  const sources: Stats = {};
  for (const r of m.results) mergeStats(sources, r.stats);
  const sorted: Stats = {};
  for (const k of Object.keys(sources).sort()) sorted[k] = sources[k]!;
  const t = totals(sorted);
  const shards = m.results.flatMap((r) => r.shards);
  const rows = shards.reduce((a, s) => a + s.rows, 0);
  return {
    mmcurate: VERSION,
    stage: m.stage,
    layout: m.layout,
    command: m.command,
    read: t.read,
    rows,
    rejected: t.rejected,
    kinds: m.kinds ?? (m.layout === 'mixture' ? {} : { [m.layout]: rows }),
    sources: sorted,
    rejected_by_reason: rejectsByReason(sorted),
    shards,
    rejects: m.results.flatMap(rejectFiles),
    columns: m.columns,
    steps: m.steps ?? [{ name: m.stage, in: t.read, out: rows }],
    tasks: { world: m.results.length },
    ...m.extra,
  };
}

/** Written last, fsynced like the shards: its presence means the dataset is complete. */
export function writeManifest(outDir: string, manifest: Manifest): string {
  const file = path.join(outDir, 'manifest.json');
  writeDurable(file, JSON.stringify(manifest, null, 2) + '\n');
  return file;
}

/**
 * What varies from run to run (seconds per step, model load time, how much work k-means could skip) goes to
 * `run-log.json` beside the manifest, so two clean runs give byte-identical manifests.
 */
export function writeRunLog(outDir: string, log: Record<string, unknown>): void {
  writeJsonAtomic(path.join(outDir, 'run-log.json'), log);
}

/** The manifest a stage wrote last. */
export function readManifest(outDir: string): Manifest {
  const file = path.join(outDir, 'manifest.json');
  // through storage: the folder may be a bucket prefix (--out s3://…)
  const text = readTextSync(file);
  if (text === undefined) throw new Error(`${file}: no manifest (the stage did not finish)`);
  return JSON.parse(text) as Manifest;
}
