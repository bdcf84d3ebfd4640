/**
 * Reads embedding columns (`image_embedding`, `text_embedding`) whatever their layout, as little-endian float16
 * bytes per row, the form every stage works on:
 *
 * - list<FLOAT16> as mmcurate writes it (src/write/float16-list-chunk.ts): pages are read directly: the levels
 *   are checked against the fixed pattern (every row `dim` values or null) and the PLAIN values copied out in
 *   one piece per page. hyparquet would assemble the lists value by value, 70x the CPU (docs/FORMAT.md).
 * - the same type written by someone else (pyarrow, DuckDB: dictionary pages, V1 pages, ragged rows):
 *   hyparquet's generic reader, each list packed back to float16.
 * - float16 bytes in a BYTE_ARRAY column (mmcurate before the list layout): hyparquet reads them as bytes already.
 */
import { parquetReadObjects, type AsyncBuffer, type ColumnChunk, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { parquetHeader } from 'hyparquet/src/column.js';
import { decompressPage } from 'hyparquet/src/datapage.js';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { ByteWriter } from 'hyparquet-writer';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { packFloat16 } from '../util/float16.js';

/** Top-level columns of the file that are list<FLOAT16> (3-level LIST of FLOAT16 leaves). */
export function float16ListColumns(metadata: FileMetaData): Set<string> {
  const out = new Set<string>();
  const s = metadata.schema;
  for (let i = 1; i + 2 < s.length; i++) {
    const [g, l, e] = [s[i]!, s[i + 1]!, s[i + 2]!];
    if (g.num_children === 1 && l.repetition_type === 'REPEATED' && l.num_children === 1 && e.type === 'FIXED_LEN_BYTE_ARRAY' && e.type_length === 2 && e.logical_type?.type === 'FLOAT16' && !e.num_children) {
      out.add(g.name);
    }
  }
  return out;
}

/** Rows of one row group's embedding column: each row's float16 bytes (views into the pages read), or null. */
export interface EmbeddingBlock {
  dim: number;
  rows: number;
  values: (Uint8Array | null)[];
}

/** The block as one rows x dim array of float16 bits (null rows are zeros); `present[i]` 0 for a null row. */
export function blockBits(b: EmbeddingBlock): { bits: Uint16Array; present: Uint8Array } {
  const bits = new Uint16Array(b.rows * b.dim);
  const out = new Uint8Array(bits.buffer);
  const present = new Uint8Array(b.rows);
  for (let i = 0; i < b.rows; i++) {
    const v = b.values[i];
    if (!v) continue;
    out.set(v, i * b.dim * 2);
    present[i] = 1;
  }
  return { bits, present };
}

/** Not the shape mmcurate writes: the caller takes hyparquet's generic path. */
class NotOurs extends Error {}

const expectedRep = new Map<string, Uint8Array>();

/** The repetition levels of `rows` full rows of `dim` values, as float16-list-chunk.ts encodes them. */
function fullRep(rows: number, dim: number): Uint8Array {
  const key = `${rows}:${dim}`;
  let b = expectedRep.get(key);
  if (!b) {
    const rep = new Uint8Array(rows * dim).fill(1);
    for (let r = 0; r < rows; r++) rep[r * dim] = 0;
    const w = new ByteWriter(64);
    writeRleBitPackedHybrid(w, rep, 1);
    b = w.getBytes();
    if (expectedRep.size > 64) expectedRep.clear();
    expectedRep.set(key, b);
  }
  return b;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reads one column chunk page by page (rows are views into it, no copy); throws NotOurs for anything but full-or-null rows in PLAIN V2 pages. */
function readChunk(bytes: Uint8Array, chunk: ColumnChunk, rows: number, dimHint: number): EmbeddingBlock {
  const meta = chunk.meta_data!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = { view, offset: 0 };
  let dim = dimHint;
  const values = new Array<Uint8Array | null>(rows).fill(null);
  let row = 0;
  while (row < rows) {
    if (reader.offset >= bytes.length) throw new NotOurs();
    const ph = parquetHeader(reader);
    const h = ph.data_page_header_v2;
    if (ph.type !== 'DATA_PAGE_V2' || !h || h.encoding !== 'PLAIN') throw new NotOurs();
    const pageStart = reader.offset;
    reader.offset += ph.compressed_page_size;
    const n = h.num_rows;
    const nulls = h.num_nulls ?? 0;
    if (row + n > rows) throw new NotOurs();
    if (!dim) {
      if (n > nulls && (h.num_values - nulls) % (n - nulls) === 0) dim = (h.num_values - nulls) / (n - nulls);
      else if (n > nulls) throw new NotOurs();
    }
    if (h.num_values !== (n - nulls) * dim + nulls) throw new NotOurs();
    const repBytes = bytes.subarray(pageStart, pageStart + h.repetition_levels_byte_length);
    const levelsEnd = pageStart + h.repetition_levels_byte_length + h.definition_levels_byte_length;
    let page = bytes.subarray(levelsEnd, pageStart + ph.compressed_page_size);
    if (h.is_compressed !== false && meta.codec !== 'UNCOMPRESSED') page = decompressPage(page, ph.uncompressed_page_size - (levelsEnd - pageStart), meta.codec, compressors);
    if (page.length !== (n - nulls) * dim * 2) throw new NotOurs();
    if (nulls === 0) {
      if (!sameBytes(repBytes, fullRep(n, dim))) throw new NotOurs();
      const w = dim * 2;
      for (let i = 0; i < n; i++) values[row + i] = page.subarray(i * w, (i + 1) * w);
    } else {
      // a page with null rows: walk its levels (rare: scored rows carry embeddings)
      const rep = new Uint8Array(h.num_values);
      const def = new Uint8Array(h.num_values);
      readRleBitPackedHybrid({ view: new DataView(repBytes.buffer, repBytes.byteOffset, repBytes.byteLength), offset: 0 }, 1, rep, repBytes.length);
      const defBytes = bytes.subarray(pageStart + h.repetition_levels_byte_length, levelsEnd);
      readRleBitPackedHybrid({ view: new DataView(defBytes.buffer, defBytes.byteOffset, defBytes.byteLength), offset: 0 }, 2, def, defBytes.length);
      let at = 0;
      let src = 0;
      for (let r = row; r < row + n; r++) {
        if (rep[at] !== 0) throw new NotOurs();
        if (def[at] === 0) {
          at++;
          continue;
        }
        for (let k = 0; k < dim; k++) if (def[at + k] !== 2 || (k > 0 && rep[at + k] !== 1)) throw new NotOurs();
        values[r] = page.subarray(src, src + dim * 2);
        src += dim * 2;
        at += dim;
      }
    }
    row += n;
  }
  return { dim, rows, values };
}

/** hyparquet's generic path: lists of numbers (or bytes, the old layout) packed into a block. */
async function readGeneric(file: AsyncBuffer, metadata: FileMetaData, column: string, start: number, end: number): Promise<EmbeddingBlock> {
  const objs = (await parquetReadObjects({ file, metadata, columns: [column], rowStart: start, rowEnd: end, compressors, utf8: false })) as Record<string, unknown>[];
  const rows = end - start;
  const values: (Uint8Array | null)[] = objs.map((o) => {
    const v = o[column];
    if (v == null) return null;
    if (v instanceof Uint8Array) return v;
    if (Array.isArray(v)) return packFloat16(Float32Array.from(v as number[]));
    throw new Error(`${column}: neither float16 bytes nor a list of numbers`);
  });
  const dim = values.find((v) => v)?.byteLength ?? 0;
  values.forEach((v, i) => {
    if (v && v.byteLength !== dim) throw new Error(`${column}: row ${start + i} has ${v.byteLength / 2} values, the rows before it ${dim / 2}`);
  });
  return { dim: dim / 2, rows, values };
}

/**
 * The embeddings of row group `group` of a file (any layout). `dim` from the file's `mmcurate` metadata when
 * known (a chunk of null rows then still has it).
 */
export async function readEmbeddingGroup(file: AsyncBuffer, metadata: FileMetaData, column: string, group: number, dim = 0): Promise<EmbeddingBlock> {
  const rg = metadata.row_groups[group]!;
  let start = 0;
  for (let g = 0; g < group; g++) start += Number(metadata.row_groups[g]!.num_rows);
  const rows = Number(rg.num_rows);
  if (float16ListColumns(metadata).has(column)) {
    const chunk = rg.columns.find((c) => c.meta_data?.path_in_schema.join('.') === `${column}.list.element`);
    const m = chunk?.meta_data;
    if (m) {
      const at = Number(m.dictionary_page_offset ?? m.data_page_offset);
      const bytes = new Uint8Array(await file.slice(at, at + Number(m.total_compressed_size)));
      try {
        return readChunk(bytes, chunk, rows, dim);
      } catch (err) {
        if (!(err instanceof NotOurs)) throw err;
      }
    }
  }
  return readGeneric(file, metadata, column, start, start + rows);
}

/** The `embedding_dim` of the file's `mmcurate` metadata, or 0. */
export function metadataDim(metadata: FileMetaData): number {
  const v = metadata.key_value_metadata?.find((e) => e.key === 'mmcurate')?.value;
  try {
    const d = v ? (JSON.parse(v) as { embedding_dim?: unknown }).embedding_dim : undefined;
    return typeof d === 'number' && Number.isInteger(d) && d > 0 ? d : 0;
  } catch {
    return 0;
  }
}
