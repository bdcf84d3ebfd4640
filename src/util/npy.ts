/**
 * NumPy .npy files (format versions 1-3) for 2-D float16/float32 matrices in C order: the layout
 * clip-retrieval and LAION ship embeddings in, and the one our centroids are saved in. Rows are read
 * in chunks with positioned reads, never the whole file, so a part larger than memory is fine.
 */
import { promises as fsp, closeSync, openSync, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import * as storage from '../storage/index.js';

export type NpyDtype = 'float16' | 'float32';
/** float16 values travel as their raw bits (Node 20 has no Float16Array). */
export type NpyArray = Uint16Array | Float32Array;

export interface NpyHeader {
  path: string;
  dtype: NpyDtype;
  rows: number;
  cols: number;
  /** Byte offset of the first row. */
  dataOffset: number;
  /** Bytes per element (2 or 4). */
  itemSize: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parse the header of `path` and check that the file holds exactly rows x cols values. */
export async function readNpyHeader(path: string): Promise<NpyHeader> {
  const fh = await openOrThrow(path);
  try {
    return await headerOf(fh, path);
  } finally {
    await fh.close();
  }
}

/** The part of a FileHandle the header reader uses; a URL (s3://, https://…) answers it with ranged reads. */
type Handle = Pick<FileHandle, 'read' | 'stat' | 'close'>;

async function openOrThrow(path: string): Promise<Handle> {
  if (storage.isRemote(path)) return remoteHandle(path);
  try {
    return await fsp.open(path, 'r');
  } catch (err) {
    throw new UsageError(`cannot open ${path}: ${(err as Error).message}`);
  }
}

async function remoteHandle(loc: string): Promise<Handle> {
  let size: number | undefined;
  try {
    size = await storage.size(loc);
  } catch (err) {
    throw new UsageError(`cannot open ${storage.redact(loc)}: ${(err as Error).message}`);
  }
  if (size === undefined) throw new UsageError(`cannot open ${storage.redact(loc)}: no such object`);
  const n = size;
  return {
    async read(buf: NodeJS.ArrayBufferView, off: number, len: number, pos: number) {
      const end = Math.min(n, pos + len);
      const got = end > pos ? await storage.read(loc, pos, end) : new Uint8Array(0);
      new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).set(got, off);
      return { bytesRead: got.length, buffer: buf };
    },
    async stat() {
      return { size: n };
    },
    async close() {},
  } as unknown as Handle;
}

async function headerOf(fh: Handle, path: string): Promise<NpyHeader> {
  const pre = Buffer.alloc(12);
  const { bytesRead } = await fh.read(pre, 0, 12, 0);
  if (bytesRead < 10 || MAGIC.some((b, i) => pre[i] !== b)) {
    throw new UsageError(`${path} is not a .npy file (no \\x93NUMPY magic); expected embeddings saved with numpy.save`);
  }
  const major = pre[6];
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = major === 1 ? pre.readUInt16LE(8) : pre.readUInt32LE(8);
  const start = 8 + lenBytes;
  const hb = Buffer.alloc(headerLen);
  await fh.read(hb, 0, headerLen, start);
  const dict = hb.toString('latin1');
  const descr = /'descr':\s*'([^']*)'/.exec(dict)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(dict)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(dict)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new UsageError(`${path}: unreadable .npy header ${JSON.stringify(dict.trim())}`);
  }
  const dtype = descr === '<f2' || descr === '=f2' ? 'float16' : descr === '<f4' || descr === '=f4' ? 'float32' : undefined;
  if (!dtype) {
    throw new UsageError(`${path}: dtype ${descr} is not supported; expected little-endian float16 ('<f2') or float32 ('<f4'). Convert with arr.astype('float16')`);
  }
  if (fortran === 'True') {
    throw new UsageError(`${path}: Fortran-ordered array; expected C order. Save np.ascontiguousarray(arr) instead`);
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.length !== 2 || shape.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new UsageError(`${path}: shape (${shapeText}) is not 2-D; expected (rows, dim)`);
  }
  const itemSize = dtype === 'float16' ? 2 : 4;
  const dataOffset = start + headerLen;
  const expected = dataOffset + shape[0] * shape[1] * itemSize;
  const { size } = await fh.stat();
  if (size !== expected) {
    throw new UsageError(`${path}: file is ${size} bytes but its header (${shape[0]} x ${shape[1]} ${dtype}) needs ${expected}; the file is truncated or corrupt`);
  }
  return { path, dtype, rows: shape[0], cols: shape[1], dataOffset, itemSize };
}

/** Reads row ranges of one .npy matrix. Close it when done. */
export class NpyReader {
  private constructor(
    readonly header: NpyHeader,
    /** A file descriptor, or the URL of a remote file (rows read with ranged requests). */
    private readonly fd: number | string,
  ) {}

  static async open(path: string): Promise<NpyReader> {
    const fh = await openOrThrow(path);
    let header: NpyHeader;
    try {
      header = await headerOf(fh, path);
    } finally {
      await fh.close();
    }
    // NOTE: rows are read with positioned synchronous reads: from the page cache they are several
    // times faster than the promise API, and a coreset task has nothing else to do meanwhile.
    return new NpyReader(header, storage.isRemote(path) ? path : openSync(path, 'r'));
  }

  /**
   * Read `count` rows starting at `start` into `out` (allocated when absent; it must hold count x cols
   * values of the file's dtype). Returns the filled view.
   */
  async readRows(start: number, count: number, out?: NpyArray): Promise<NpyArray> {
    const h = this.header;
    if (start < 0 || count < 0 || start + count > h.rows) {
      throw new RangeError(`${h.path}: rows ${start}..${start + count} outside 0..${h.rows}`);
    }
    const n = count * h.cols;
    const arr = out ?? (h.dtype === 'float16' ? new Uint16Array(n) : new Float32Array(n));
    if (arr.length < n) throw new RangeError(`buffer of ${arr.length} values is too small for ${n}`);
    if ((h.dtype === 'float16') !== arr instanceof Uint16Array) throw new TypeError(`${h.path} is ${h.dtype}; buffer type differs`);
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, n * h.itemSize);
    let done = 0;
    const pos = h.dataOffset + start * h.cols * h.itemSize;
    if (typeof this.fd === 'string') {
      bytes.set(await storage.read(this.fd, pos, pos + bytes.length));
      return arr.subarray(0, n);
    }
    while (done < bytes.length) {
      const bytesRead = readSync(this.fd, bytes, done, bytes.length - done, pos + done);
      if (bytesRead === 0) throw new Error(`${h.path}: unexpected end of file`);
      done += bytesRead;
    }
    return arr.subarray(0, n);
  }

  async close(): Promise<void> {
    if (typeof this.fd === 'number') closeSync(this.fd);
  }
}

/** A header size that fits any row count, for files whose rows are counted while writing. */
const OPEN_HEADER = 128;

function headerBytes(dtype: NpyDtype, rows: number, cols: number, fixed?: number): Buffer {
  const descr = dtype === 'float16' ? '<f2' : '<f4';
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  // Pad with spaces so the data starts on a 64-byte boundary, ending in a newline (as numpy does).
  const total = fixed ?? Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const b = Buffer.alloc(total);
  Buffer.from(MAGIC).copy(b, 0);
  b[6] = 1;
  b[7] = 0;
  b.writeUInt16LE(dict.length, 8);
  b.write(dict, 10, 'latin1');
  return b;
}

/**
 * Streams rows into a new .npy file. With the row count given up front the header is numpy's own; without
 * it (`rows` undefined) a fixed 128-byte header is reserved and the shape written in on `close()`. Writes to
 * `path.tmp` and renames on `close()`, so a crash never leaves a half-written file under the final name.
 */
export class NpyWriter {
  private written = 0;
  private constructor(
    private readonly path: string,
    private readonly fh: FileHandle,
    readonly dtype: NpyDtype,
    readonly rows: number | undefined,
    readonly cols: number,
  ) {}

  static async create(path: string, dtype: NpyDtype, rows: number | undefined, cols: number): Promise<NpyWriter> {
    const fh = await fsp.open(`${path}.tmp`, 'w');
    await fh.write(rows === undefined ? headerBytes(dtype, 0, cols, OPEN_HEADER) : headerBytes(dtype, rows, cols));
    return new NpyWriter(path, fh, dtype, rows, cols);
  }

  get rowsWritten(): number {
    return this.written;
  }

  /** Append whole rows (values in row-major order; float16 as raw bits). */
  async write(values: NpyArray): Promise<void> {
    if ((this.dtype === 'float16') !== values instanceof Uint16Array) throw new TypeError(`${this.path}: writer is ${this.dtype}; values differ`);
    if (values.length % this.cols !== 0) throw new RangeError(`${values.length} values are not whole rows of ${this.cols}`);
    this.written += values.length / this.cols;
    if (this.rows !== undefined && this.written > this.rows) throw new RangeError(`${this.path}: more than the ${this.rows} rows declared`);
    await this.fh.write(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }

  async close(): Promise<void> {
    if (this.rows === undefined) await this.fh.write(headerBytes(this.dtype, this.written, this.cols, OPEN_HEADER), 0, OPEN_HEADER, 0);
    await this.fh.close();
    if (this.rows !== undefined && this.written !== this.rows) {
      await fsp.rm(`${this.path}.tmp`, { force: true });
      throw new Error(`${this.path}: ${this.written} rows written but ${this.rows} declared`);
    }
    await fsp.rename(`${this.path}.tmp`, this.path);
  }

  /** Drops the partial file. */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => {});
    await fsp.rm(`${this.path}.tmp`, { force: true });
  }
}

/** Write a whole matrix to `path` (atomically). */
export async function writeNpy(path: string, values: NpyArray, rows: number, cols: number): Promise<void> {
  if (values.length !== rows * cols) throw new RangeError(`${values.length} values are not ${rows} x ${cols}`);
  const w = await NpyWriter.create(path, values instanceof Uint16Array ? 'float16' : 'float32', rows, cols);
  await w.write(values);
  await w.close();
}

/** Read a whole (small) matrix, e.g. saved centroids. */
export async function readNpy(path: string): Promise<{ header: NpyHeader; values: NpyArray }> {
  const r = await NpyReader.open(path);
  try {
    const values = await r.readRows(0, r.header.rows);
    return { header: r.header, values };
  } finally {
    await r.close();
  }
}
