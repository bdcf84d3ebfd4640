/** A part's rows, streamed in slices of its row groups (one decoded row group in memory at a time). */
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import type { DedupPart } from './layout.js';

export async function* partRows(part: DedupPart, columns?: string[], batch = 4096): AsyncGenerator<{ start: number; rows: Record<string, unknown>[] }> {
  const pf = await openParquet(part.path);
  if (pf.rows !== part.rows) throw new Error(`${part.path}: ${pf.rows} rows, but its manifest said ${part.rows} when the stage was planned; the input changed during the run: run the stage again into a new --out`);
  const have = columns?.filter((c) => pf.columns.includes(c));
  for (const g of pf.groups) for (const s of slices(g, batch)) yield { start: s.start, rows: await readRowGroup(pf, s, have) };
}
