/**
 * The Parquet page codecs a writer offers (`--compression`). ZSTD is the default: on the bench data it
 * writes shards half the size of GZIP-1 for about the same CPU time (docs/benchmarks.md, "Compression"),
 * and it is what DuckDB, Polars and the Hugging Face Hub write. Node 20's zlib has no zstd: the codec is
 * zstd's C library compiled to WebAssembly (@bokuweb/zstd-wasm, no install script, no native build), loaded
 * once when this module is first imported. SNAPPY is hyparquet-writer's own JavaScript implementation; GZIP
 * is Node's zlib. Every reader (pyarrow, Polars, DuckDB, hyparquet through hyparquet-compressors) reads all three.
 */
import { gzipSync } from 'node:zlib';
import { compress as zstdCompress, init as zstdInit } from '@bokuweb/zstd-wasm';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import type { CompressionCodec } from 'hyparquet';

import { DEFAULT_COMPRESSION, type Compression } from './compression.js';

export type { Compression } from './compression.js';

/** zstd level 1 and GZIP level 1: the levels that cost about the same CPU time per byte as writing it (benchmarks.md). */
const ZSTD_LEVEL = 1;
const GZIP_LEVEL = 1;

await zstdInit();

const asBytes = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export interface Codec {
  /** The Parquet codec name written in each column chunk. */
  name: CompressionCodec;
  compress(input: Uint8Array): Uint8Array;
}

const CODECS: Record<Compression, Codec> = {
  zstd: { name: 'ZSTD', compress: (b) => asBytes(zstdCompress(b, ZSTD_LEVEL)) },
  snappy: { name: 'SNAPPY', compress: (b) => snappyCompress(b) },
  gzip: { name: 'GZIP', compress: (b) => asBytes(gzipSync(b, { level: GZIP_LEVEL })) },
};

export function codec(c: Compression = DEFAULT_COMPRESSION): Codec {
  return CODECS[c];
}

/** The compressors table hyparquet-writer takes, for one codec. */
export function compressors(c: Codec): Partial<Record<CompressionCodec, (input: Uint8Array) => Uint8Array>> {
  return { [c.name]: c.compress };
}
