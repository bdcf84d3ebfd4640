/**
 * Reads Parquet one row group at a time (hyparquet over ranged file reads), so a file of any size is
 * streamed. Byte arrays without a UTF8 annotation stay binary (image bytes, embeddings).
 */
import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import * as storage from '../storage/index.js';
import { float16ListColumns, metadataDim, readEmbeddingGroup } from './embeddings.js';

export interface ParquetFile {
  path: string;
  metadata: FileMetaData;
  rows: number;
  /** [start, end) row ranges of the row groups. */
  groups: { start: number; end: number }[];
  columns: string[];
  kv: Record<string, string>;
}

/** `path` is a local file or a URL (storage/): remote files are read as their footer and the row groups asked for. */
export async function openParquet(path: string): Promise<ParquetFile & { file: AsyncBuffer }> {
  // ranged reads straight into one buffer (local files too: hyparquet's own reader copied image bytes twice)
  const file = await storage.asyncBuffer(path);
  const metadata = await parquetMetadataAsync(file);
  const groups: { start: number; end: number }[] = [];
  let at = 0;
  for (const rg of metadata.row_groups) {
    const n = Number(rg.num_rows);
    groups.push({ start: at, end: at + n });
    at += n;
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  const kv: Record<string, string> = {};
  for (const e of metadata.key_value_metadata ?? []) if (e.value !== undefined) kv[e.key] = e.value;
  return { path, file, metadata, rows: at, groups, columns, kv };
}

/**
 * Rows [start, end) of the file. hyparquet decodes a whole row group to serve any part of it, so reading a
 * group in slices would decode it once per slice (quadratic): the last decoded group is kept on the file
 * handle and later slices of it are served from there. Memory: one decoded row group per open file.
 */
export async function readRowGroup(
  pf: ParquetFile & { file: AsyncBuffer },
  range: { start: number; end: number },
  columns?: string[],
): Promise<Record<string, unknown>[]> {
  const group = pf.groups.find((g) => range.start >= g.start && range.end <= g.end);
  if (!group) return decode(pf, range, columns);
  const key = `${group.start}:${columns?.join(',') ?? '*'}`;
  const cached = cache.get(pf);
  let rows: Record<string, unknown>[];
  if (cached?.key === key) rows = cached.rows;
  else {
    rows = await decode(pf, group, columns);
    cache.set(pf, { key, rows });
  }
  return range.start === group.start && range.end === group.end ? rows : rows.slice(range.start - group.start, range.end - group.start);
}

const cache = new WeakMap<object, { key: string; rows: Record<string, unknown>[] }>();

async function decode(pf: ParquetFile & { file: AsyncBuffer }, range: { start: number; end: number }, columns?: string[]): Promise<Record<string, unknown>[]> {
  // embedding lists are read page by page (embeddings.ts), as float16 bytes like the layout before them
  // (only mmcurate's embedding columns: a foreign file's float16 lists stay numbers, as hyparquet reads them)
  const lists = float16ListColumns(pf.metadata);
  for (const c of lists) if (c !== 'image_embedding' && c !== 'text_embedding') lists.delete(c);
  const wanted = columns ?? pf.columns;
  const fast = lists.size ? wanted.filter((c) => lists.has(c)) : [];
  if (!fast.length) return generic(pf, range, columns);
  const rest = wanted.filter((c) => !lists.has(c));
  const n = range.end - range.start;
  const base = rest.length ? await generic(pf, range, rest) : new Array<Record<string, unknown>>(n);
  const dim = metadataDim(pf.metadata);
  for (const col of fast) {
    for (let g = 0; g < pf.groups.length; g++) {
      const grp = pf.groups[g]!;
      if (grp.end <= range.start || grp.start >= range.end) continue;
      const block = await readEmbeddingGroup(pf.file, pf.metadata, col, g, dim);
      for (let r = Math.max(grp.start, range.start); r < Math.min(grp.end, range.end); r++) {
        const i = r - range.start;
        const v = block.values[r - grp.start]!;
        if (base[i]) base[i]![col] = v;
        else {
          const o: Record<string, unknown> = {};
          o[col] = v;
          base[i] = o;
        }
      }
    }
  }
  // columns in the order asked for (the file's when none were), as hyparquet gives them: the embeddings were
  // added last, so only rows where another column follows them are rebuilt
  const last = wanted.findLastIndex((c) => !lists.has(c));
  if (last < 0 || wanted.slice(0, last).every((c) => !lists.has(c))) return base;
  return base.map((row) => {
    const o: Record<string, unknown> = {};
    for (const c of wanted) o[c] = row[c];
    return o;
  });
}

async function generic(pf: ParquetFile & { file: AsyncBuffer }, range: { start: number; end: number }, columns?: string[]): Promise<Record<string, unknown>[]> {
  return (await parquetReadObjects({
    file: pf.file,
    metadata: pf.metadata,
    rowStart: range.start,
    rowEnd: range.end,
    columns,
    compressors,
    utf8: false,
  })) as Record<string, unknown>[];
}

/** Large row groups are read in slices so one LAION metadata part with a single huge group stays bounded. */
export function* slices(group: { start: number; end: number }, maxRows: number): Generator<{ start: number; end: number }> {
  for (let s = group.start; s < group.end; s += maxRows) yield { start: s, end: Math.min(group.end, s + maxRows) };
}
