/**
 * The write task (one per input part): every row's fate from the row results and the cuts; kept
 * rows go to the shard writer with all the columns they came with plus cluster_id and centroid_sim,
 * every other row to rejects with the step that dropped it.
 *
 * Datasets (`mmcurate score` output) are re-read row group by row group. LAION-layout rows become
 * caption records: url and caption from the metadata part, every other metadata column kept in
 * `metadata` (JSON), the embeddings as float16 columns, and a stable id from (source, file, row).
 */
import path from 'node:path';
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { Accounting } from '../write/accounting.js';
import { RejectWriter, type Reject } from '../write/rejects.js';
import { ShardWriter } from '../write/shard-writer.js';
import { f32ToF16 } from '../util/float16.js';
import { jsonText } from '../util/json-text.js';
import { NpyReader, type NpyArray } from '../util/npy.js';
import { unpackId, type CoresetTaskSpec } from './layout.js';
import { fateOf, loadCuts, partResults, type Cuts, type Fate, type PartResults } from './select.js';
import { laionRowId, partOf, type SourceSpec } from './source.js';
import type { Compression } from '../write/compression.js';

/** Settings of the output the command passes to the write tasks. */
export interface WriteSettings {
  layout: 'caption' | 'interleaved' | 'text';
  columns: string[];
  kv: Record<string, unknown>;
  maxShardRows?: number;
  compression?: Compression;
}

const DETAIL: Record<Exclude<Fate, 'kept'>, string> = {
  near_duplicate: 'near-duplicate of another image in its k-means cluster',
  invalid_embedding: 'image embedding is NaN, infinite or all zeros',
  missing_clip_score: 'no clip_score, which the clip_score band needs',
  clip_score_band: 'clip_score outside the kept rank band',
  centroid_band: 'cosine to the cluster centroid outside the kept rank band',
  not_sampled: 'not drawn by the final seeded sample',
};

export async function writeTask(spec: CoresetTaskSpec, ctx: TaskContext): Promise<TaskOutput> {
  const p = ctx.rank;
  const settings = spec.write as WriteSettings;
  const { cuts } = loadCuts(ctx.outDir);
  const res = await partResults(spec, p);
  const writer = new ShardWriter({ outDir: ctx.outDir, layout: settings.layout, rank: p, stage: 'coreset', columns: settings.columns, kvMetadata: settings.kv, maxShardRows: settings.maxShardRows, compression: settings.compression });
  const rejects = new RejectWriter(ctx.outDir, p, 'coreset');
  const acct = new Accounting();
  const fates: Record<string, number> = {};
  const detail = details(spec, cuts);
  const emit = (row: Record<string, unknown>, i: number, where: Where): void => {
    const base = spec.source.parts[p].base;
    const fate = fateOf(cuts, res.status[i], res.score[i], res.sim[i], base + i);
    fates[fate] = (fates[fate] ?? 0) + 1;
    if (fate === 'kept') {
      writer.write({ ...row, cluster_id: res.cluster[i], centroid_sim: res.sim[i] });
      acct.kept(where.source);
      return;
    }
    rejects.write(rejectOf(spec, res, detail, fate, i, where));
    acct.rejected(where.source, fate);
  };
  if (spec.source.layout === 'dataset') await writeDataset(spec, p, emit, ctx);
  else await writeLaion(spec, p, res, cuts, emit, ctx);
  const shards = writer.close();
  const rej = rejects.close();
  return { shards, ...(rej ? { rejects: rej } : {}), stats: acct.sources, extra: { fates } };
}

type Where = { source: string; file: string; location: string; id: string; embedding_file?: string; embedding_row?: number };
type Emit = (row: Record<string, unknown>, i: number, where: Where) => void;

/** Reject details per step, fixed for the run (built once: a 2M-row run rejects nearly every row). */
function details(spec: CoresetTaskSpec, cuts: Cuts): Record<Exclude<Fate, 'kept'>, string> {
  const d = { ...DETAIL };
  const dd = spec.cfg.dedup;
  if (dd) d.near_duplicate = `${DETAIL.near_duplicate} (rule ${dd.rule}, cos ${dd.rule === 'semdedup' ? '>=' : '>'} ${dd.threshold})`;
  if (cuts.clip) d.clip_score_band = `${DETAIL.clip_score_band} ${spec.cfg.clipBand!.lo}-${spec.cfg.clipBand!.hi}% (positions ${cuts.clip.from}..${cuts.clip.to} of ${cuts.clip.n})`;
  if (cuts.centroid) d.centroid_band = `${DETAIL.centroid_band} ${spec.cfg.centroidBand!.lo}-${spec.cfg.centroidBand!.hi}% (positions ${cuts.centroid.from}..${cuts.centroid.to} of ${cuts.centroid.n})`;
  if (cuts.sample) d.not_sampled = `${DETAIL.not_sampled} of ${cuts.sample.size} out of ${cuts.sample.n} (seed ${cuts.seed})`;
  return d;
}

function rejectOf(spec: CoresetTaskSpec, res: PartResults, detail: Record<Exclude<Fate, 'kept'>, string>, fate: Exclude<Fate, 'kept'>, i: number, where: Where): Reject {
  const clustered = res.cluster[i] >= 0;
  // One object shape for every reject (absent fields undefined, which JSON leaves out): fast to build and serialise.
  return {
    source: where.source,
    file: where.file,
    location: where.location,
    id: where.id,
    reason: fate,
    detail: detail[fate],
    clip_score: Number.isFinite(res.score[i]) ? res.score[i] : undefined,
    cluster_id: clustered ? res.cluster[i] : undefined,
    centroid_sim: clustered ? res.sim[i] : undefined,
    duplicate_of: fate === 'near_duplicate' ? (res.dupId ? unpackId(res.dupId, i * 4) : laionId(spec.source, res.dupRow[i])) : undefined,
    embedding_file: where.embedding_file,
    embedding_row: where.embedding_row,
  };
}

function laionId(src: SourceSpec, row: number): string {
  const p = partOf(src, row);
  return laionRowId(src.source, src.parts[p].name, row - src.parts[p].base);
}

async function writeDataset(spec: CoresetTaskSpec, p: number, emit: Emit, ctx: TaskContext): Promise<void> {
  const part = spec.source.parts[p];
  const pf = await openParquet(part.shard!);
  for (const g of pf.groups) {
    for (const s of slices(g, 4096)) {
      const rows = await readRowGroup(pf, s);
      rows.forEach((row, t) => {
        const i = s.start + t;
        emit(row, i, { source: String(row.source ?? spec.source.source), file: part.name, location: `row ${i}`, id: String(row.id) });
      });
      ctx.report(rows.length, rows.length);
    }
  }
}

const LAION_FIELDS = new Set(['url', 'caption', 'width', 'height']);

function jsonSafe(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v instanceof Date) return v.toISOString();
  return v;
}

async function writeLaion(spec: CoresetTaskSpec, p: number, res: PartResults, cuts: Cuts, emit: Emit, ctx: TaskContext): Promise<void> {
  const src = spec.source;
  const part = src.parts[p];
  const img = await NpyReader.open(part.img!);
  const txt = part.text ? await NpyReader.open(part.text) : undefined;
  const meta = part.meta ? await openParquet(part.meta) : undefined;
  const file = path.relative(src.dir, part.meta ?? part.img!);
  // the clip-retrieval join key: without metadata parts it is the only link back to the source data
  const embFile = path.relative(src.dir, part.img!);
  const d = src.dim;
  // Row i of a slice's embeddings as float16 bytes (a copy: the block is reused).
  const f16 = (block: NpyArray, i: number): Uint8Array => {
    const v = block.subarray(i * d, (i + 1) * d);
    const h = v instanceof Uint16Array ? v : f32ToF16(v);
    return new Uint8Array(h.buffer, h.byteOffset, h.byteLength).slice();
  };
  try {
    const groups = meta ? meta.groups.flatMap((g) => [...slices(g, 4096)]) : [...slices({ start: 0, end: part.rows }, 4096)];
    for (const s of groups) {
      const metaRows = meta ? await readRowGroup(meta, s) : undefined;
      // The slice's embeddings, read in one go when its first kept row needs them.
      let imgBlock: NpyArray | undefined, txtBlock: NpyArray | undefined;
      for (let i = s.start; i < s.end; i++) {
        const m = metaRows?.[i - s.start] ?? {};
        const id = laionRowId(src.source, part.name, i);
        const where = { source: src.source, file, location: typeof m.key === 'string' ? `row ${i} (key ${m.key})` : `row ${i}`, id, embedding_file: embFile, embedding_row: i };
        // Only kept rows need their record built (and their embeddings read back).
        if (fateOf(cuts, res.status[i], res.score[i], res.sim[i], part.base + i) !== 'kept') {
          emit({}, i, where);
          continue;
        }
        const rest: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(m)) if (!LAION_FIELDS.has(k)) rest[k] = jsonSafe(v);
        rest.embedding_file = embFile;
        rest.embedding_row = i;
        const url = typeof m.url === 'string' ? m.url : null;
        const dim = (v: unknown): number | null => (typeof v === 'number' && v >= 1 ? Math.trunc(v) : typeof v === 'bigint' && v >= 1n ? Number(v) : null);
        const row: Record<string, unknown> = {
          id,
          kind: 'caption',
          source: src.source,
          image: { bytes: null, path: url },
          text: typeof m.caption === 'string' ? m.caption : '',
          url,
          image_format: null,
          width: dim(m.width),
          height: dim(m.height),
          metadata: jsonText(rest),
          image_embedding: f16((imgBlock ??= await img.readRows(s.start, s.end - s.start)), i - s.start),
        };
        if (txt) row.text_embedding = f16((txtBlock ??= await txt.readRows(s.start, s.end - s.start)), i - s.start);
        if (src.scores) row.clip_score = res.score[i];
        emit(row, i, where);
      }
      ctx.report(s.end - s.start, s.end - s.start);
    }
  } finally {
    await img.close();
    await txt?.close();
  }
}
