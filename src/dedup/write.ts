/**
 * The write task (per part): the part's drops from the resolve or components step, sorted by row; the part's
 * rows streamed again; kept rows go to the shard writer with every column they came with, dropped rows to
 * rejects (`duplicate` or `near_duplicate`) naming the row they duplicate: its id and its location.
 */
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { unpackId } from '../coreset/layout.js';
import { readSpilled } from '../coreset/spill.js';
import { Accounting } from '../write/accounting.js';
import { RejectWriter } from '../write/rejects.js';
import { ShardWriter } from '../write/shard-writer.js';
import { partOf, paths, type DedupSpec } from './layout.js';
import { partRows } from './rows.js';

/** Where a global row is: the input folder, the shard inside it, the row inside the shard. */
export function locate(spec: DedupSpec, row: number): { input: string; file: string; row: number } {
  const part = spec.parts[partOf(spec.parts, row)]!;
  return { input: spec.inputs[part.input]!, file: part.file, row: row - part.base };
}

export async function writePart(spec: DedupSpec, p: number, ctx: TaskContext): Promise<TaskOutput> {
  const part = spec.parts[p]!;
  const dropFiles = spec.exact ? Array.from({ length: spec.buckets }, (_, b) => paths.resolve(spec.work, b)) : [paths.components(spec.work)];
  const { rows: n, cols } = await readSpilled(dropFiles, p);
  const dRow = cols.row as Float64Array, dup = cols.dup as Float64Array, comp = cols.comp as Float64Array, dupId = cols.dupId as Int32Array;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => dRow[a]! - dRow[b]!);
  const writer = new ShardWriter({ outDir: ctx.outDir, layout: spec.layout, rank: p, stage: 'dedup', columns: spec.write.columns, kvMetadata: spec.write.kv, maxShardRows: spec.write.maxShardRows, compression: spec.write.compression });
  const rejects = new RejectWriter(ctx.outDir, p, 'dedup');
  const acct = new Accounting();
  const reason = spec.exact ? 'duplicate' : 'near_duplicate';
  const what = spec.exact
    ? `same normalised ${spec.exact} as an earlier row`
    : `near-duplicate (${spec.near!.params.verify === 'none' ? 'shares a MinHash band' : `Jaccard >= ${spec.near!.params.threshold}`} over word ${spec.near!.params.ngram}-grams) of the first row of its component`;
  let next = 0;
  for await (const { start, rows } of partRows(part)) {
    for (let t = 0; t < rows.length; t++) {
      const row = rows[t]!;
      const i = start + t;
      const source = String(row.source);
      const d = next < n ? order[next]! : -1;
      if (d < 0 || dRow[d] !== part.base + i) {
        writer.write(row);
        acct.kept(source);
        continue;
      }
      next++;
      const kept = locate(spec, dup[d]!);
      rejects.write({
        source,
        file: part.file,
        location: `row ${i}`,
        id: String(row.id),
        reason,
        detail: `${what}: ${kept.file} row ${kept.row}`,
        input: spec.inputs[part.input],
        duplicate_of: unpackId(dupId, d * 4),
        duplicate_of_location: kept,
        component: spec.exact ? undefined : comp[d],
      });
      acct.rejected(source, reason);
    }
    ctx.report(rows.length, rows.length);
  }
  if (next !== n) throw new Error(`dedup write ${part.path}: ${n - next} dropped row(s) were not met while reading the part; the intermediate files do not match the input: delete OUT and run again`);
  const shards = writer.close();
  const rej = rejects.close();
  return { shards, ...(rej ? { rejects: rej } : {}), stats: acct.sources };
}
