/**
 * Rolling Parquet shards: rows are buffered into row groups (bounded by rows and by uncompressed bytes),
 * each row group is encoded and streamed to disk at once, and a shard is closed and renamed into place when
 * it reaches its row or byte budget. Memory holds at most one row group, whatever the input size.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import path from 'node:path';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { Layout } from '../records.js';
import { huggingfaceMetadata, parquetSchema, selectColumns, type ColumnDef } from './parquet-schema.js';
import { tmpName } from './atomic.js';
import { gzipSync } from 'node:zlib';
import { encodeUtf8 } from './utf8.js';
import { VERSION } from '../version.js';

const gzip = (input: Uint8Array): Uint8Array => {
  const out = gzipSync(input, { level: 1 });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
};

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

/** A rough uncompressed size: enough to keep row groups under their byte budget. */
export function rowBytes(row: Row): number {
  let n = 16;
  for (const v of Object.values(row)) n += valueBytes(v);
  return n;
}

function valueBytes(v: unknown): number {
  if (v == null) return 1;
  if (typeof v === 'string') return v.length + 4;
  if (v instanceof Uint8Array) return v.byteLength + 4;
  if (Array.isArray(v)) return v.reduce<number>((a, x) => a + valueBytes(x), 4);
  if (typeof v === 'object') return Object.values(v as object).reduce<number>((a, x) => a + valueBytes(x), 0);
  return 8;
}

/** A column that carries image bytes or embeddings in this row group (not just URL references). */
function holdsBinary(c: ColumnDef, rows: Row[]): boolean {
  if (!c.elements.some((e) => e.type === 'BYTE_ARRAY' && !e.converted_type)) return false;
  const n = Math.min(rows.length, 64);
  for (let i = 0; i < n; i++) if (valueBytes(rows[i]![c.name]) > 256) return true;
  return false;
}

/**
 * Dictionary encoding only pays for repeated values (kind, source, format); trying it on ids, captions and
 * image bytes costs a hash of every value for nothing. A sample of the row group decides.
 */
function mostlyDistinct(c: ColumnDef, rows: Row[]): boolean {
  if (holdsBinary(c, rows)) return true;
  if (c.elements.length !== 1 || c.elements[0]!.type !== 'BYTE_ARRAY') return false;
  const n = Math.min(rows.length, 512);
  if (n < 64) return false;
  const seen = new Set<unknown>();
  for (let i = 0; i < n; i++) seen.add(rows[i]![c.name]);
  return seen.size > n / 2;
}

const isUtf8 = (c: ColumnDef): boolean => c.elements.length === 1 && c.elements[0]!.converted_type === 'UTF8';
const isImage = (c: ColumnDef): boolean => c.elements.length === 3 && c.elements[1]!.name === 'bytes' && c.elements[2]!.name === 'path';

/**
 * A column's values as the Parquet writer takes them. Distinct strings (ids, captions, URLs, image paths) go
 * over pre-encoded in bulk; repeated ones stay strings, which the dictionary keys by value.
 */
function columnValues(c: ColumnDef, rows: Row[], plain: boolean): unknown[] {
  const values = rows.map((r) => r[c.name] ?? null);
  if (plain && isUtf8(c)) return encodeUtf8(values);
  if (!isImage(c)) return values;
  const paths = encodeUtf8(values.map((v) => (v as { path?: unknown } | null)?.path ?? null));
  return values.map((v, i) => (v === null ? null : { bytes: (v as { bytes?: unknown }).bytes ?? null, path: paths[i] }));
}

/** A ByteWriter that streams to a file descriptor and hashes what it writes. */
class FileSink extends ByteWriter {
  written = 0;
  readonly hash: Hash = createHash('sha256');
  constructor(private readonly fd: number) {
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
    while (off < chunk.length) off += writeSync(this.fd, chunk, off);
    this.written += chunk.length;
    this.index = 0;
  }
}

export class ShardWriter {
  readonly columns: ColumnDef[];
  private readonly opts: Required<Omit<ShardWriterOptions, 'columns' | 'kvMetadata'>> & { kvMetadata?: Record<string, unknown> };
  private readonly shards: ShardInfo[] = [];
  private buffer: Row[] = [];
  private bufferBytes = 0;
  private seq = 0;
  private current?: { fd: number; tmp: string; final: string; sink: FileSink; writer: ParquetWriter; rows: number };

  constructor(options: ShardWriterOptions) {
    // an option given as undefined means "the default", not "no limit"
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.opts = { ...SHARD_DEFAULTS, ...given } as ShardWriter['opts'];
    this.columns = selectColumns(options.layout, options.columns ?? []);
    mkdirSync(path.join(options.outDir, 'data'), { recursive: true });
  }

  write(row: Row): void {
    const bytes = rowBytes(row);
    const shardRows = (this.current?.rows ?? 0) + this.buffer.length;
    const shardBytes = (this.current?.sink.written ?? 0) + this.bufferBytes;
    // the uncompressed estimate overstates what lands on disk, so a shard never exceeds its byte budget
    if (shardRows > 0 && (shardRows + 1 > this.opts.maxShardRows || shardBytes + bytes > this.opts.maxShardBytes)) {
      this.flushRowGroup();
      this.closeShard();
    }
    this.buffer.push(row);
    this.bufferBytes += bytes;
    if (this.buffer.length >= this.opts.maxRowGroupRows || this.bufferBytes >= this.opts.maxRowGroupBytes) this.flushRowGroup();
  }

  /** Closes the last shard and returns every shard this writer produced. */
  close(): ShardInfo[] {
    this.flushRowGroup();
    this.closeShard();
    return this.shards;
  }

  private flushRowGroup(): void {
    if (this.buffer.length === 0) return;
    const shard = this.current ?? this.openShard();
    const rows = this.buffer;
    // min/max statistics pay off for numbers (score filters push down); on text and bytes they cost time
    const columnData = this.columns.map((c) => {
      const plain = mostlyDistinct(c, rows);
      return {
        name: c.name,
        data: columnValues(c, rows, plain),
        statistics: c.elements.length === 1 && c.elements[0]!.type !== 'BYTE_ARRAY',
        // image bytes are JPEG/PNG/WebP already: compressing them again costs time and saves nothing
        codec: holdsBinary(c, rows) ? ('UNCOMPRESSED' as const) : ('GZIP' as const),
        ...(plain ? { encoding: 'PLAIN' as const } : {}),
      };
    });
    shard.writer.write({ columnData, rowGroupSize: rows.length });
    shard.sink.drain();
    shard.rows += rows.length;
    this.buffer = [];
    this.bufferBytes = 0;
  }

  private openShard(): NonNullable<ShardWriter['current']> {
    const rel = shardName(this.opts.rank, this.seq++);
    const final = path.join(this.opts.outDir, rel);
    const tmp = tmpName(final);
    const fd = openSync(tmp, 'w');
    const sink = new FileSink(fd);
    const kv = [{ key: 'huggingface', value: huggingfaceMetadata(this.columns) }];
    if (this.opts.kvMetadata) kv.push({ key: 'mmcurate', value: JSON.stringify(this.opts.kvMetadata) });
    // GZIP through Node's native zlib at level 1: faster than a JavaScript snappy and half the size (see README)
    const writer = new ParquetWriter({ writer: sink, schema: parquetSchema(this.columns), kvMetadata: kv, createdBy: `mmcurate ${VERSION}`, codec: 'GZIP', compressors: { GZIP: gzip } });
    this.current = { fd, tmp, final, sink, writer, rows: 0 };
    return this.current;
  }

  private closeShard(): void {
    const s = this.current;
    if (!s) return;
    s.writer.finish();
    s.sink.drain();
    fsyncSync(s.fd);
    closeSync(s.fd);
    renameSync(s.tmp, s.final);
    this.shards.push({ path: path.relative(this.opts.outDir, s.final), rows: s.rows, bytes: s.sink.written, sha256: s.sink.hash.digest('hex') });
    this.current = undefined;
  }
}
