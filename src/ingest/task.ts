/**
 * One ingest task: reads the input units assigned to its rank, turns raw items into records, and writes
 * shards and rejects. Imported by the executor in a worker thread or in-process.
 */
import { RunError } from '../errors.js';
import type { Kind } from '../records.js';
import { Accounting } from '../write/accounting.js';
import { RejectWriter } from '../write/rejects.js';
import { ShardWriter, type Row } from '../write/shard-writer.js';
import type { Compression } from '../write/compression.js';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import pLimit from 'p-limit';
import { mapOrdered } from '../run/ordered.js';
import type { InputUnit } from './detect.js';
import { toRecord, type ImagePaths, type Mapped, type MapOptions } from './map.js';
import type { ImageCheckMode } from './images.js';
import { readerFor } from './readers/index.js';
import { UnreadableFileError, type RawItem } from './readers/types.js';

export interface IngestSpec {
  kind: Kind;
  units: InputUnit[];
  /** Unit indices per rank. */
  assignment: number[][];
  map: Record<string, string>;
  maxPixels: number;
  imageCheck: ImageCheckMode;
  strict: boolean;
  textSplit: 'line' | 'paragraph' | 'file';
  /** Column names for CSV/TSV inputs without a header row. */
  csvColumns?: string[];
  /** Longer lines are rejected as `line_too_long` (absent: DEFAULT_MAX_LINE_BYTES). */
  maxLineBytes?: number;
  /**
   * The local image path rule (map.ts ImagePaths): `cwd` is the working directory the command ran in, where
   * relative paths in Parquet image structs resolve without `root`; set when an input is Parquet.
   */
  imagePaths: { root?: string; allowOutside: boolean; maxBytes: number; cwd?: string };
  shard: { maxShardRows?: number; maxShardBytes?: number; maxRowGroupRows?: number; maxRowGroupBytes?: number; compression?: Compression };
}

/** Images read and decoded at once per task: enough to keep libvips busy, few enough to bound memory. */
const DECODE_CONCURRENCY = 16;

export async function runTask(spec: IngestSpec, ctx: TaskContext): Promise<TaskOutput> {
  const acct = new Accounting();
  const rejects = new RejectWriter(ctx.outDir, ctx.rank, 'ingest');
  const writer = new ShardWriter({ outDir: ctx.outDir, layout: spec.kind, rank: ctx.rank, ...spec.shard, stage: 'ingest' });
  const limit = pLimit(DECODE_CONCURRENCY);
  const { root, allowOutside, maxBytes, cwd } = spec.imagePaths;
  for (const ui of spec.assignment[ctx.rank] ?? []) {
    const unit = spec.units[ui]!;
    const structBase = unit.format === 'parquet' ? (root ?? cwd) : undefined;
    // an image folder's paths come from its own listing (links followed, as documented), not from records
    const free = allowOutside || unit.format === 'imagefolder';
    const paths: ImagePaths = { allowOutside: free, maxBytes, ...(root ? { root } : {}), ...(structBase ? { structBase } : {}) };
    const opts: MapOptions = { map: spec.map, maxPixels: spec.maxPixels, imageCheck: spec.imageCheck, limit, paths };
    const reader = readerFor(unit.format, spec.textSplit, spec.csvColumns);
    const items = reader({ absPath: unit.absPath, relPath: unit.relPath, part: unit.part, onBytes: (n) => ctx.report(n, 0), ...(spec.maxLineBytes ? { maxLineBytes: spec.maxLineBytes } : {}) });
    // two batches in flight: the next one is read and decoded while this one is written
    const mapped = mapOrdered<RawItem[], { items: RawItem[]; results: Mapped[] }>(items, 2, async (batch) => {
      const results = batch.map((item) => toRecord(spec.kind, unit.source, item, opts));
      // only rows with images to decode come back as promises; a batch of URL rows never waits
      return { items: batch, results: results.some((r) => r instanceof Promise) ? await Promise.all(results) : (results as Mapped[]) };
    });
    try {
      for await (const { items: batch, results } of mapped) {
        for (let i = 0; i < batch.length; i++) {
          const item = batch[i]!;
          const m = results[i]!;
          if ('record' in m) {
            writer.write(m.record as unknown as Row);
            acct.kept(unit.source);
            continue;
          }
          if (spec.strict) throw new RunError(`${unit.relPath}, ${item.location}: ${m.reason}: ${m.detail} (--strict stops at the first bad record)`);
          acct.rejected(unit.source, m.reason);
          rejects.write({ source: unit.source, file: item.file, location: item.location, reason: m.reason, detail: m.detail });
        }
        ctx.report(0, batch.length);
      }
    } catch (err) {
      if (!(err instanceof UnreadableFileError) || spec.strict) throw err;
      process.stderr.write(`warning: ${err.message}; going on with the other inputs\n`);
      acct.rejected(unit.source, 'unreadable_file');
      rejects.write({ source: unit.source, file: unit.relPath, location: 'file', reason: 'unreadable_file', detail: err.message });
    }
  }
  const shards = writer.close();
  const rej = rejects.close();
  return { shards, ...(rej ? { rejects: rej } : {}), stats: acct.sources };
}
