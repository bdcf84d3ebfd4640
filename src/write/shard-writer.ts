/**
 * Rolling Parquet shards: rows are buffered into row groups (bounded by rows and by uncompressed bytes),
 * each row group is encoded and streamed to disk at once, and a shard is closed and renamed into place when
 * it reaches its row or byte budget. Memory holds at most one row group, whatever the input size.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import path from 'node:path';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { Layout } from '../records.js';
import { huggingfaceMetadata, parquetSchema, selectColumns, type ColumnDef } from './parquet-schema.js';
import { tmpName } from './atomic.js';
import { writeError } from './io-error.js';
import type { ColumnChunk, SchemaElement, SchemaTree } from 'hyparquet';
import { getSchemaPath } from 'hyparquet/src/schema.js';
import { writeColumn } from 'hyparquet-writer/src/column.js';
import { encodeNestedValues } from 'hyparquet-writer/src/dremel.js';
import { stringBounds, writeByteArrayChunk, type ByteArrayLeaf } from './byte-array-chunk.js';
import { writeFloat16ListChunk } from './float16-list-chunk.js';
import { VERSION } from '../version.js';
import { codec, compressors, type Codec, type Compression } from './codecs.js';


export interface ShardInfo {
  path: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface ShardWriterOptions {
  /** The dataset folder; shards go to `<outDir>/data/`. */
  outDir: string;
  layout: Layout;
  /** Optional schema columns to write besides the required ones (score columns, cluster ids...). */
  columns?: readonly string[];
  /** Task rank: shard names are `part-<rank>-<seq>.parquet`. */
  rank: number;
  maxShardRows?: number;
  maxShardBytes?: number;
  maxRowGroupRows?: number;
  maxRowGroupBytes?: number;
  /** Extra key-value metadata (the `mmcurate` entry: embedding dimension, model...). */
  kvMetadata?: Record<string, unknown>;
  /** The stage writing, named in an error message (a full disk, a folder not writable). */
  stage?: string;
  /** The page codec (default DEFAULT_COMPRESSION, zstd); image bytes are stored as they are whatever it is. */
  compression?: Compression;
}

export const SHARD_DEFAULTS = {
  maxShardRows: 1_000_000,
  maxShardBytes: 256 * 1024 * 1024,
  maxRowGroupRows: 32_768,
  // 32 MiB keeps a worker's share of a row group of image bytes, and its encode buffers, well under 1 GiB
  maxRowGroupBytes: 32 * 1024 * 1024,
};

export type Row = Record<string, unknown>;

export function shardName(rank: number, seq: number): string {
  return `data/part-${String(rank).padStart(5, '0')}-${String(seq).padStart(5, '0')}.parquet`;
}

// called for every value of every row: no arrays or closures allocated here
function valueBytes(v: unknown): number {
  if (v == null) return 1;
  if (typeof v === 'string') return v.length + 4;
  if (typeof v !== 'object') return 8;
  if (v instanceof Uint8Array) return v.byteLength + 4;
  let n = Array.isArray(v) ? 4 : 0;
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) n += valueBytes(v[i]);
  else for (const k in v) n += valueBytes((v as Record<string, unknown>)[k]);
  return n;
}

/** A column that carries image bytes or embeddings in this row group (not just URL references). */
function holdsBinary(c: ColumnDef, values: unknown[]): boolean {
  if (!c.elements.some((e) => e.type === 'BYTE_ARRAY' && !e.converted_type)) return false;
  const n = Math.min(values.length, 64);
  for (let i = 0; i < n; i++) if (valueBytes(values[i]) > 256) return true;
  return false;
}

/**
 * Dictionary encoding only pays for repeated values (kind, source, format); trying it on ids, captions and
 * image bytes costs a hash of every value for nothing. A sample of the row group decides.
 */
function mostlyDistinct(c: ColumnDef, values: unknown[]): boolean {
  if (c.elements.length !== 1 || c.elements[0]!.type !== 'BYTE_ARRAY') return false;
  const n = Math.min(values.length, 512);
  if (n < 64) return false;
  const seen = new Set<unknown>();
  for (let i = 0; i < n; i++) seen.add(values[i]);
  return seen.size > n / 2;
}

/** A UTF-8 string leaf (not raw bytes): its min/max are worth writing. */
const isString = (e: SchemaElement): boolean => e.type === 'BYTE_ARRAY' && (e.converted_type === 'UTF8' || e.logical_type?.type === 'STRING');
const isImage = (c: ColumnDef): boolean => c.elements.length === 3 && c.elements[1]!.name === 'bytes' && c.elements[2]!.name === 'path';
const isFloat16List = (c: ColumnDef): boolean => c.elements.length === 3 && c.elements[2]!.logical_type?.type === 'FLOAT16';
const isFlatBytes = (c: ColumnDef): boolean => c.elements.length === 1 && c.elements[0]!.type === 'BYTE_ARRAY';

/**
 * The leaves the fast byte-array encoder writes for a column, or undefined when hyparquet-writer must
 * (lists, numbers, and strings that repeat enough for a dictionary).
 */
function fastLeaves(c: ColumnDef, values: unknown[], plain: boolean): ByteArrayLeaf[] | undefined {
  const optional = c.elements[0]!.repetition_type !== 'REQUIRED';
  if (isFlatBytes(c) && plain) {
    return [{ path: [c.name], maxDefinitionLevel: optional ? 1 : 0, value: (i) => (values[i] ?? null) as string | Uint8Array | null, nullLevel: () => 0, stats: isString(c.elements[0]!) }];
  }
  if (!isImage(c)) return undefined;
  // {bytes, path}: both leaves OPTIONAL inside the struct (level 2 when present, 1 when only the leaf is null)
  const structLevel = optional ? 1 : 0;
  const image = (i: number) => values[i] as { bytes?: Uint8Array | null; path?: string | null } | null | undefined;
  const leaf = (key: 'bytes' | 'path'): ByteArrayLeaf => ({
    path: [c.name, key],
    maxDefinitionLevel: structLevel + 1,
    value: (i) => image(i)?.[key] ?? null,
    nullLevel: (i) => (image(i) == null ? 0 : structLevel),
    stats: key === 'path',
  });
  return [leaf('bytes'), leaf('path')];
}

function dictionaryBounds(values: unknown[]): NonNullable<ColumnChunk['meta_data']>['statistics'] {
  const distinct = new Set<string>();
  let nulls = 0;
  for (const v of values) {
    if (typeof v === 'string') distinct.add(v);
    else nulls++;
  }
  const { min, max } = stringBounds(distinct);
  return { null_count: BigInt(nulls), ...(min !== undefined ? { min_value: min, max_value: max } : {}) };
}

/** Schema paths from the root to each leaf under a top-level column. */
function leafPaths(tree: SchemaTree[]): SchemaTree[][] {
  const node = tree[tree.length - 1]!;
  return node.children.length ? node.children.flatMap((child) => leafPaths([...tree, child])) : [tree];
}

/** A ByteWriter that streams to a file descriptor and hashes what it writes; `fail` names a write error. */
class FileSink extends ByteWriter {
  written = 0;
  readonly hash: Hash = createHash('sha256');
  constructor(
    private readonly fd: number,
    private readonly fail: (err: unknown) => Error,
  ) {
    super();
  }
  override ensure(size: number): void {
    if (this.index > 1 << 20) this.drain();
    super.ensure(size);
  }
  drain(): void {
    if (this.index === 0) return;
    const chunk = new Uint8Array(this.buffer, 0, this.index);
    this.hash.update(chunk);
    let off = 0;
    try {
      while (off < chunk.length) off += writeSync(this.fd, chunk, off);
    } catch (err) {
      throw this.fail(err);
    }
    this.written += chunk.length;
    this.index = 0;
  }
}

export class ShardWriter {
  readonly columns: ColumnDef[];
  private readonly opts: Required<Omit<ShardWriterOptions, 'columns' | 'kvMetadata' | 'stage' | 'compression'>> & { kvMetadata?: Record<string, unknown>; stage?: string };
  private readonly codec: Codec;
  private readonly shards: ShardInfo[] = [];
  /** The row group being gathered, column by column: a record object dies young instead of waiting for the flush. */
  private buffer: unknown[][];
  private bufferRows = 0;
  private bufferBytes = 0;
  private seq = 0;
  private current?: { fd: number; tmp: string; final: string; sink: FileSink; writer: ParquetWriter; rows: number };

  constructor(options: ShardWriterOptions) {
    // an option given as undefined means "the default", not "no limit"
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.opts = { ...SHARD_DEFAULTS, ...given } as ShardWriter['opts'];
    this.columns = selectColumns(options.layout, options.columns ?? []);
    this.codec = codec(options.compression);
    this.buffer = this.columns.map(() => []);
    const data = path.join(options.outDir, 'data');
    try {
      mkdirSync(data, { recursive: true });
    } catch (err) {
      throw writeError(err, { stage: options.stage, what: 'the shard folder', file: data });
    }
  }

  /** The error for a failed write; the shard being written is given up (its descriptor closed, its partial file removed: on a full disk, that is space back). */
  private fail(file: string): (err: unknown) => Error {
    return (err) => {
      const s = this.current;
      this.current = undefined;
      if (s) {
        try {
          closeSync(s.fd);
        } catch {
          // closing a descriptor whose writes failed may fail too; the error reported is the first
        }
        rmSync(s.tmp, { force: true });
      }
      return writeError(err, { stage: this.opts.stage, what: 'the shard', file });
    };
  }

  write(row: Row): void {
    // a rough uncompressed size: enough to keep row groups under their byte budget
    let bytes = 16;
    for (const c of this.columns) bytes += valueBytes(row[c.name]);
    const shardRows = (this.current?.rows ?? 0) + this.bufferRows;
    const shardBytes = (this.current?.sink.written ?? 0) + this.bufferBytes;
    // the uncompressed estimate overstates what lands on disk, so a shard never exceeds its byte budget
    if (shardRows > 0 && (shardRows + 1 > this.opts.maxShardRows || shardBytes + bytes > this.opts.maxShardBytes)) {
      this.flushRowGroup();
      this.closeShard();
    }
    // a row group closes before the row that would take it past its byte budget: only a single row larger than
    // the budget (one 37 MiB image) makes a larger row group, alone
    if (this.bufferRows > 0 && this.bufferBytes + bytes > this.opts.maxRowGroupBytes) this.flushRowGroup();
    for (let j = 0; j < this.columns.length; j++) this.buffer[j]!.push(row[this.columns[j]!.name] ?? null);
    this.bufferRows++;
    this.bufferBytes += bytes;
    if (this.bufferRows >= this.opts.maxRowGroupRows || this.bufferBytes >= this.opts.maxRowGroupBytes) this.flushRowGroup();
  }

  /** Closes the last shard and returns every shard this writer produced. */
  close(): ShardInfo[] {
    this.flushRowGroup();
    this.closeShard();
    return this.shards;
  }

  private flushRowGroup(): void {
    const n = this.bufferRows;
    if (n === 0) return;
    const shard = this.current ?? this.openShard();
    const sink = shard.sink;
    const groupStart = sink.offset;
    const chunks: ColumnChunk[] = [];
    for (let j = 0; j < this.columns.length; j++) {
      const c = this.columns[j]!;
      const values = this.buffer[j]!;
      if (isFloat16List(c)) {
        chunks.push(writeFloat16ListChunk(sink, c.name, values));
        continue;
      }
      // image bytes are JPEG/PNG/WebP already: compressing them again costs time and saves nothing
      const binary = holdsBinary(c, values);
      const plain = binary || mostlyDistinct(c, values);
      const codec = binary ? 'UNCOMPRESSED' : this.codec.name;
      const leaves = fastLeaves(c, values, plain);
      if (leaves) {
        for (const leaf of leaves) chunks.push(writeByteArrayChunk(sink, leaf, n, codec, binary ? undefined : this.codec.compress));
        continue;
      }
      for (const leafPath of leafPaths(this.tree(c.name))) {
        const schemaPath = leafPath.map((node) => node.element);
        const { chunk } = writeColumn({
          writer: sink,
          column: {
            columnName: schemaPath.slice(1).map((e) => e.name).join('.'),
            element: schemaPath[schemaPath.length - 1]!,
            schemaPath,
            codec,
            compressors: compressors(this.codec),
            // min/max statistics on numbers let readers skip row groups (strings: below); raw bytes and lists get none
            stats: c.elements.length === 1 && c.elements[0]!.type !== 'BYTE_ARRAY',
            pageSize: 1 << 20,
            columnIndex: false,
            offsetIndex: false,
            ...(plain ? { encoding: 'PLAIN' as const } : {}),
          },
          pageData: encodeNestedValues(leafPath, values),
        });
        // a dictionary string column (kind, source, format) has few distinct values: bound those, not every row
        // (hyparquet-writer's own statistics encode each value to bytes to compare it)
        if (c.elements.length === 1 && isString(c.elements[0]!)) chunk.meta_data!.statistics = dictionaryBounds(values);
        chunks.push(chunk);
      }
    }
    let total = 0n;
    for (const ch of chunks) total += ch.meta_data?.total_uncompressed_size ?? 0n;
    // the row group goes into the ParquetWriter's list, which its finish() writes into the footer
    shard.writer.row_groups.push({ columns: chunks, total_byte_size: total, num_rows: BigInt(n), total_compressed_size: BigInt(sink.offset - groupStart) });
    shard.writer.num_rows += BigInt(n);
    sink.drain();
    shard.rows += n;
    this.buffer = this.columns.map(() => []);
    this.bufferRows = 0;
    this.bufferBytes = 0;
  }

  private treeCache = new Map<string, SchemaTree[]>();
  private tree(name: string): SchemaTree[] {
    let t = this.treeCache.get(name);
    if (!t) this.treeCache.set(name, (t = getSchemaPath(parquetSchema(this.columns), [name])));
    return t;
  }

  private openShard(): NonNullable<ShardWriter['current']> {
    const rel = shardName(this.opts.rank, this.seq++);
    const final = path.join(this.opts.outDir, rel);
    const tmp = tmpName(final);
    let fd: number;
    try {
      fd = openSync(tmp, 'w');
    } catch (err) {
      throw this.fail(final)(err);
    }
    const sink = new FileSink(fd, this.fail(final));
    const kv = [{ key: 'huggingface', value: huggingfaceMetadata(this.columns) }];
    if (this.opts.kvMetadata) kv.push({ key: 'mmcurate', value: JSON.stringify(this.opts.kvMetadata) });
    // the codec: zstd by default (codecs.ts says why)
    // string bounds longer than 64 bytes are cut (a max rounded up) and marked inexact, as parquet-mr does
    const writer = new ParquetWriter({ writer: sink, schema: parquetSchema(this.columns), kvMetadata: kv, createdBy: `mmcurate ${VERSION}`, codec: this.codec.name, compressors: compressors(this.codec), statisticsTruncateLength: 64 });
    this.current = { fd, tmp, final, sink, writer, rows: 0 };
    return this.current;
  }

  private closeShard(): void {
    const s = this.current;
    if (!s) return;
    s.writer.finish();
    s.sink.drain();
    try {
      // a full disk may surface only here, when the file system commits what it accepted
      fsyncSync(s.fd);
      closeSync(s.fd);
      renameSync(s.tmp, s.final);
    } catch (err) {
      throw this.fail(s.final)(err);
    }
    this.shards.push({ path: path.relative(this.opts.outDir, s.final), rows: s.rows, bytes: s.sink.written, sha256: s.sink.hash.digest('hex') });
    this.current = undefined;
  }
}
