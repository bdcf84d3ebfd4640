/**
 * Flat binary files of fixed-size records (ids, offsets, pairs) or plain u32 streams (shingles): written
 * through a temporary name and renamed into place when complete, read back by position. What the shuffle
 * files (coreset/spill.ts) are for routed rows, these are for per-row data that later steps look up.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpName } from '../write/atomic.js';

export class FlatWriter {
  private chunks: Buffer[] = [];
  private pending = 0;
  bytes = 0;
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}
  static async create(path: string): Promise<FlatWriter> {
    return new FlatWriter(path, await fsp.open(tmpName(path), 'w'));
  }
  /** Appends a copy of `v`'s bytes. */
  async add(v: ArrayBufferView): Promise<void> {
    const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    this.chunks.push(Buffer.from(b));
    this.pending += b.length;
    this.bytes += b.length;
    if (this.pending >= 8 << 20) await this.flush();
  }
  private async flush(): Promise<void> {
    if (!this.chunks.length) return;
    const data = Buffer.concat(this.chunks);
    for (let off = 0; off < data.length; ) off += (await this.fh.write(data, off, data.length - off)).bytesWritten;
    this.chunks = [];
    this.pending = 0;
  }
  async close(): Promise<void> {
    await this.flush();
    await this.fh.close();
    await fsp.rename(tmpName(this.path), this.path);
  }
}

/** Reads `into.byteLength` bytes at `pos`; a short file is an error naming it. */
export async function readAt(fh: FileHandle, file: string, into: ArrayBufferView, pos: number): Promise<void> {
  const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
  for (let done = 0; done < bytes.length; ) {
    const { bytesRead } = await fh.read(bytes, done, bytes.length - done, pos + done);
    if (bytesRead === 0) throw new Error(`${file}: ends before byte ${pos + bytes.length} (truncated intermediate file; delete OUT/_work and OUT/_tasks and run again)`);
    done += bytesRead;
  }
}
