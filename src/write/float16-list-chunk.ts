/**
 * The page encoder for embedding columns: `list<element: FLOAT16>` (a 3-level LIST of FIXED_LEN_BYTE_ARRAY(2)
 * with the FLOAT16 logical type), which pyarrow, Polars, `datasets` and DuckDB read as numbers
 * (docs/FORMAT.md, "Embedding layout"). A row holds exactly `dim` values or is null, so each page's levels
 * are a fixed pattern and its values are the rows' float16 bytes laid end to end: a page costs one copy per row,
 * not hyparquet-writer's per-value Dremel walk. src/io/embeddings.ts reads the pages back the same way.
 */
import type { ColumnChunk, SchemaElement } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import type { Writer } from 'hyparquet-writer/src/types.js';

const PAGE_BYTES = 1 << 20;

/** Definition levels: 0 a null row, 2 a present value (1, an empty list, is never written). */
export const FLOAT16_LIST_MAX_DEF = 2;

/** The schema elements of an embedding column `name`. */
export function float16ListElements(name: string): SchemaElement[] {
  return [
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 2, logical_type: { type: 'FLOAT16' }, repetition_type: 'REQUIRED' },
  ];
}

/**
 * Writes one column chunk of `values` (little-endian float16 bytes per row, or null) and returns its metadata.
 * Pages are stored uncompressed whatever the file's codec: dense float16 vectors gain under 1% from zstd
 * (docs/FORMAT.md) and the reader would pay for decompressing them.
 */
export function writeFloat16ListChunk(writer: Writer, name: string, values: readonly unknown[]): ColumnChunk {
  const rows = values.length;
  let dim = 0;
  for (const v of values) {
    if (v == null) continue;
    if (!(v instanceof Uint8Array) || v.byteLength % 2 !== 0 || v.byteLength === 0) throw new Error(`shard writer: column ${name} holds a value that is not float16 bytes`);
    if (dim === 0) dim = v.byteLength / 2;
    else if (v.byteLength / 2 !== dim) throw new Error(`shard writer: column ${name} mixes embedding dimensions ${dim} and ${v.byteLength / 2} in one row group`);
  }
  const rowsPerPage = Math.max(1, Math.floor(PAGE_BYTES / (2 * Math.max(dim, 1))));
  const start = writer.offset;
  let uncompressed = 0;
  let pages = 0;
  let numValues = 0;
  let nullCount = 0;
  for (let first = 0; first < rows || (rows === 0 && pages === 0); first += rowsPerPage) {
    const end = Math.min(rows, first + rowsPerPage);
    let nulls = 0;
    for (let i = first; i < end; i++) if (values[i] == null) nulls++;
    const present = end - first - nulls;
    const count = present * dim + nulls; // level entries: dim per present row, one per null row
    const rep = new Uint8Array(count).fill(1);
    const def = new Uint8Array(count).fill(FLOAT16_LIST_MAX_DEF);
    const data = new Uint8Array(present * dim * 2);
    let at = 0;
    let off = 0;
    for (let i = first; i < end; i++) {
      const v = values[i] as Uint8Array | null;
      rep[at] = 0;
      if (v == null) {
        def[at++] = 0;
        continue;
      }
      at += dim;
      data.set(v, off);
      off += v.byteLength;
    }
    const repBytes = new ByteWriter(64);
    writeRleBitPackedHybrid(repBytes, rep, 1);
    const defBytes = new ByteWriter(64);
    writeRleBitPackedHybrid(defBytes, def, 2);
    const levels = repBytes.offset + defBytes.offset;
    const headerStart = writer.offset;
    writePageHeader(writer, {
      type: 'DATA_PAGE_V2',
      uncompressed_page_size: levels + data.byteLength,
      compressed_page_size: levels + data.byteLength,
      data_page_header_v2: {
        num_values: count,
        num_nulls: nulls,
        num_rows: end - first,
        encoding: 'PLAIN',
        definition_levels_byte_length: defBytes.offset,
        repetition_levels_byte_length: repBytes.offset,
        is_compressed: false,
      },
    });
    writer.appendBytes(repBytes.getBytes());
    writer.appendBytes(defBytes.getBytes());
    writer.appendBytes(data);
    uncompressed += writer.offset - headerStart;
    numValues += count;
    nullCount += nulls;
    pages++;
    if (rows === 0) break;
  }
  return {
    meta_data: {
      type: 'FIXED_LEN_BYTE_ARRAY',
      encodings: ['PLAIN', 'RLE'],
      path_in_schema: [name, 'list', 'element'],
      codec: 'UNCOMPRESSED',
      num_values: BigInt(numValues),
      total_compressed_size: BigInt(writer.offset - start),
      total_uncompressed_size: BigInt(uncompressed),
      data_page_offset: BigInt(start),
      encoding_stats: [{ page_type: 'DATA_PAGE_V2', encoding: 'PLAIN', count: pages }],
      statistics: { null_count: BigInt(nullCount) },
    },
    file_offset: BigInt(start),
  };
}
