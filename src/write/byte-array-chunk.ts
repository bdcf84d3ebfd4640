/**
 * A fast encoder for the column chunks that carry most of a shard's bytes: flat BYTE_ARRAY columns of
 * distinct values (ids, captions, URLs, metadata JSON, image bytes and paths), PLAIN-encoded.
 *
 * Why not hyparquet-writer for these: it takes one JS value per row through Dremel level building, a
 * per-value type check, a copy into a growing buffer and a page split by estimated size. For 250K URL rows
 * that was a third of ingest's CPU time. Here a page is built by writing each string straight into one
 * reusable buffer with a native `Buffer.write`, so a row costs a length prefix and a memcpy.
 *
 * The pages are DATA_PAGE_V2 like hyparquet-writer's, so a shard's chunks look alike whichever encoder
 * wrote them; readers (DuckDB, pyarrow, hyparquet) are checked in test/write-fast-chunk.test.ts.
 */
import type { ColumnChunk, CompressionCodec } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import type { Writer } from 'hyparquet-writer/src/types.js';

/** hyparquet-writer's page size: a reader decompresses one page at a time. */
const PAGE_BYTES = 1 << 20;

/** One leaf of a flat column, or of a struct of flat leaves (the image struct's `bytes` and `path`). */
export interface ByteArrayLeaf {
  /** Schema path below the root, e.g. ['image', 'path']. */
  path: string[];
  /** Definition level of a present value: 0 for a required flat column, 1 optional, 2 inside an optional struct. */
  maxDefinitionLevel: number;
  /** Per row: the leaf's value (string, bytes or null) and, where it is null, the level it is defined to. */
  value: (row: number) => string | Uint8Array | null;
  /** Definition level of a row whose value is null (0 when the whole struct is null, 1 when only the leaf is). */
  nullLevel: (row: number) => number;
  /**
   * Write min/max statistics (strings: DuckDB, Polars and pyarrow skip row groups on them). Off for image bytes
   * and embeddings, whose bounds filter nothing.
   */
  stats?: boolean;
}

// Buffer's own UTF-8 writer, without `write()`'s argument juggling: 20-30% less per short string (Node 20)
type Utf8Writer = Buffer & { utf8Write(s: string, offset: number): number };

let scratch = Buffer.allocUnsafeSlow(4 << 20);

/** A code unit at or above U+E000: where UTF-16 order (JavaScript's) and UTF-8 order (Parquet's) can part. */
const HIGH_UNIT = /[\ue000-\uffff]/;

/**
 * Compares strings in code point order, which is the order of their UTF-8 bytes: surrogates (astral
 * characters) sort after every BMP character, as their 4-byte UTF-8 sequences do.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** The least and greatest of some strings in Parquet's order (UTF-8 bytes); undefined when there are none. */
export function stringBounds(values: Iterable<string>): { min?: string; max?: string } {
  let min: string | undefined;
  let max: string | undefined;
  for (const v of values) {
    if (min === undefined || compareUtf8(v, min) < 0) min = v;
    if (max === undefined || compareUtf8(v, max) > 0) max = v;
  }
  return { min, max };
}

function ensure(size: number): void {
  if (size <= scratch.length) return;
  scratch = Buffer.allocUnsafeSlow(Math.max(size, scratch.length * 2));
}

/**
 * Writes one column chunk of `rows` values and returns its metadata. `compress` is the codec's function
 * (absent for UNCOMPRESSED).
 */
export function writeByteArrayChunk(writer: Writer, leaf: ByteArrayLeaf, rows: number, codec: CompressionCodec, compress?: (b: Uint8Array) => Uint8Array): ColumnChunk {
  const start = writer.offset;
  let uncompressed = 0;
  let pages = 0;
  const levels = leaf.maxDefinitionLevel > 0 ? new Uint8Array(rows) : undefined;
  // bounds: strings by JavaScript's `<` (a native Buffer.compare per value tripled the writer's time), which
  // agrees with Parquet's byte order unless a value holds a code unit >= U+E000; then they are found again exactly
  let min: string | Uint8Array | undefined;
  let max: string | Uint8Array | undefined;
  let exact = true;
  let nullCount = 0;
  let row = 0;
  do {
    // one page: values from `first` until the page holds PAGE_BYTES (a row never spans pages)
    const first = row;
    let off = 0;
    let nulls = 0;
    while (row < rows && off < PAGE_BYTES) {
      const v = leaf.value(row);
      if (v === null) {
        // records are validated against their schema before they get here: this is a bug, not bad input
        if (!levels) throw new Error(`shard writer: column ${leaf.path.join('.')} is REQUIRED but row ${row} of the row group has no value`);
        levels[row] = leaf.nullLevel(row);
        nulls++;
      } else {
        if (levels) levels[row] = leaf.maxDefinitionLevel;
        if (typeof v === 'string') {
          // a UTF-16 unit takes at most 3 UTF-8 bytes; a lone surrogate becomes U+FFFD, as TextEncoder does
          ensure(off + 4 + v.length * 3);
          const len = (scratch as Utf8Writer).utf8Write(v, off + 4);
          scratch.writeUInt32LE(len, off);
          if (leaf.stats) {
            if (min === undefined || v < (min as string)) min = v;
            if (max === undefined || v > (max as string)) max = v;
            if (len !== v.length && exact && HIGH_UNIT.test(v)) exact = false; // ASCII (len === length) never is
          }
          off += 4 + len;
        } else {
          ensure(off + 4 + v.byteLength);
          scratch.writeUInt32LE(v.byteLength, off);
          scratch.set(v, off + 4);
          if (leaf.stats) {
            if (min === undefined || Buffer.compare(v, min as Uint8Array) < 0) min = v;
            if (max === undefined || Buffer.compare(v, max as Uint8Array) > 0) max = v;
          }
          off += 4 + v.byteLength;
        }
      }
      row++;
    }
    nullCount += nulls;
    const count = row - first;
    const levelBytes = new ByteWriter(16 + (count >> 2));
    if (levels) writeRleBitPackedHybrid(levelBytes, levels.subarray(first, row), Math.ceil(Math.log2(leaf.maxDefinitionLevel + 1)));
    const data = scratch.subarray(0, off);
    const stored = compress ? compress(data) : data;
    const headerStart = writer.offset;
    writePageHeader(writer, {
      type: 'DATA_PAGE_V2',
      uncompressed_page_size: levelBytes.offset + off,
      compressed_page_size: levelBytes.offset + stored.byteLength,
      data_page_header_v2: {
        num_values: count,
        num_nulls: nulls,
        num_rows: count,
        encoding: 'PLAIN',
        definition_levels_byte_length: levelBytes.offset,
        repetition_levels_byte_length: 0,
        is_compressed: compress !== undefined,
      },
    });
    uncompressed += writer.offset - headerStart + levelBytes.offset + off;
    writer.appendBytes(levelBytes.getBytes());
    writer.appendBytes(stored);
    pages++;
  } while (row < rows);
  if (leaf.stats && !exact) {
    const values: string[] = [];
    for (let i = 0; i < rows; i++) {
      const v = leaf.value(i);
      if (typeof v === 'string') values.push(v);
    }
    ({ min, max } = stringBounds(values));
  }
  return {
    meta_data: {
      type: 'BYTE_ARRAY',
      encodings: levels ? ['PLAIN', 'RLE'] : ['PLAIN'],
      path_in_schema: leaf.path,
      codec,
      num_values: BigInt(rows),
      total_compressed_size: BigInt(writer.offset - start),
      total_uncompressed_size: BigInt(uncompressed),
      data_page_offset: BigInt(start),
      encoding_stats: [{ page_type: 'DATA_PAGE_V2', encoding: 'PLAIN', count: pages }],
      // the footer writer cuts long bounds (ParquetWriter's statisticsTruncateLength) and marks them inexact
      ...(leaf.stats ? { statistics: { null_count: BigInt(nullCount), ...(min !== undefined ? { min_value: min, max_value: max } : {}) } } : {}),
    },
    file_offset: BigInt(start),
  };
}
