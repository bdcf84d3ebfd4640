/**
 * One filter task: the input shards of its rank (a contiguous run of the input's rows), each read once and
 * written to its own output shard named after it, so `--tasks 1` and `--tasks 3` write the same files with
 * the same bytes. Every row is kept, or rejected with the first filter that failed it and where it was.
 */
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import type { Kind } from '../records.js';
import { eachItem, type TaskContext, type TaskOutput } from '../run/contract.js';
import { Accounting } from '../write/accounting.js';
import { RejectWriter } from '../write/rejects.js';
import { ShardWriter } from '../write/shard-writer.js';
import type { Compression } from '../write/compression.js';
import { buildFilters, type FilterSet } from './filters.js';
import { emptyCount, type Filter, type FilterCount } from './predicate.js';
import { RecordView } from './view.js';

export type OnMissing = 'keep' | 'reject';

export interface FilterTaskSpec {
  kind: Kind;
  /** Input shards, absolute, with the names rejects cite. */
  shards: { abs: string; rel: string }[];
  /** Shard indexes per rank, contiguous. */
  assignment: number[][];
  columns: string[];
  filters: FilterSet;
  onMissing: OnMissing;
  shard: { maxShardRows?: number; maxShardBytes?: number; maxRowGroupBytes?: number; compression?: Compression };
}

export interface FilterExtra {
  [key: string]: unknown;
  counts: FilterCount[];
}

export async function runTask(spec: FilterTaskSpec, ctx: TaskContext): Promise<TaskOutput> {
  const filters = await buildFilters(spec.filters, spec.kind);
  return eachItem(spec.assignment[ctx.rank] ?? [], async (item) => {
    const input = spec.shards[item]!;
    const pf = await openParquet(input.abs);
    // the input's own metadata (the embedding dimension score wrote) goes on with its rows
    const kv = pf.kv.mmcurate ? { ...(JSON.parse(pf.kv.mmcurate) as Record<string, unknown>), stage: 'filter' } : { stage: 'filter' };
    const writer = new ShardWriter({ outDir: ctx.outDir, layout: spec.kind, rank: item, stage: 'filter', columns: spec.columns, kvMetadata: kv, ...spec.shard });
    const rejects = new RejectWriter(ctx.outDir, item, 'filter');
    const acct = new Accounting();
    const counts = filters.map(emptyCount);
    for (const g of pf.groups) {
      for (const sl of slices(g, 1024)) {
        const rows = await readRowGroup(pf, sl, undefined);
        for (let k = 0; k < rows.length; k++) {
          const row = rows[k]!;
          const source = String(row.source ?? 'unknown');
          const view = new RecordView(spec.kind, row);
          const failed = judge(filters, counts, view, spec.onMissing);
          if (!failed) {
            // C4 keeps a text document's good lines only
            writer.write(view.cleanedText !== undefined ? { ...row, text: view.cleanedText } : row);
            acct.kept(source);
            continue;
          }
          acct.rejected(source, failed.reason);
          rejects.write({ source, file: input.rel, location: `row ${sl.start + k}`, reason: failed.reason, detail: failed.detail, id: row.id as string | undefined, filter: failed.filter });
        }
        ctx.report(rows.length, rows.length);
      }
    }
    const shards = writer.close();
    const rej = rejects.close();
    const extra: FilterExtra = { counts };
    return { shards, ...(rej ? { rejects: rej } : {}), stats: acct.sources, extra };
  });
}

/** Runs the filters in order; the first that rejects the row decides its reason. */
function judge(filters: Filter[], counts: FilterCount[], view: RecordView, onMissing: OnMissing): { reason: string; detail: string; filter: string } | undefined {
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i]!;
    const c = counts[i]!;
    c.evaluated++;
    const o = f.test(view);
    if ('pass' in o) {
      if (o.pass) {
        c.passed++;
        continue;
      }
      c.rejected++;
      return { reason: o.reason ?? f.reason, detail: o.detail, filter: f.name };
    }
    if ('missing' in o) {
      c.missing++;
      if (onMissing === 'keep') {
        c.passed++;
        continue;
      }
      return { reason: `missing_field:${o.missing}`, detail: `filter ${f.name} (${f.spec}) needs ${o.missing}, which this row does not have (--on-missing keep lets such rows pass)`, filter: f.name };
    }
    c.invalid++;
    return { reason: `invalid_value:${f.name}`, detail: o.invalid, filter: f.name };
  }
  return undefined;
}
