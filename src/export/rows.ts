/**
 * Rows [start, end) of a dataset in its global row order (shards in manifest order), streamed a row-group
 * slice at a time: an export task reads only its own contiguous run of rows, whatever the shard borders.
 */
import { openParquet, readRowGroup, slices, type ParquetFile } from '../io/parquet.js';
import type { AsyncBuffer } from 'hyparquet';

export interface InputShard {
  /** Absolute path. */
  path: string;
  /** Path as the input manifest names it (`data/part-…`), for rejects. */
  rel: string;
  rows: number;
}

export interface LocatedRow {
  row: Record<string, unknown>;
  /** Global row index in the dataset. */
  index: number;
  shard: InputShard;
  /** Row index within its shard. */
  inShard: number;
}

const BATCH = 1024;

export async function* rowRange(shards: readonly InputShard[], start: number, end: number, columns: string[]): AsyncGenerator<LocatedRow> {
  let base = 0;
  for (const shard of shards) {
    const from = Math.max(start, base) - base;
    const to = Math.min(end, base + shard.rows) - base;
    if (from < to) {
      const pf: ParquetFile & { file: AsyncBuffer } = await openParquet(shard.path);
      if (pf.rows !== shard.rows) throw new Error(`${shard.path} holds ${pf.rows} rows but its manifest says ${shard.rows}; the input changed since the export was planned: run the export again on a finished dataset`);
      const present = columns.filter((c) => pf.columns.includes(c));
      for (const g of pf.groups) {
        const lo = Math.max(g.start, from);
        const hi = Math.min(g.end, to);
        if (lo >= hi) continue;
        for (const s of slices({ start: lo, end: hi }, BATCH)) {
          const rows = await readRowGroup(pf, s, present);
          for (let i = 0; i < rows.length; i++) yield { row: rows[i]!, index: base + s.start + i, shard, inShard: s.start + i };
        }
      }
    }
    base += shard.rows;
    if (base >= end) return;
  }
}
