/**
 * `--emit-npy`: the clip-retrieval / LAION embedding layout next to the shards, one part per task, row-aligned:
 * `img_emb/img_emb_{i}.npy`, `text_emb/text_emb_{i}.npy` (float16, L2-normalised, [rows, dim]) and
 * `metadata/metadata_{i}.parquet` (id, caption/text, url, similarity, width, height, source).
 *
 * NOTE: src/util/npy.ts's NpyWriter needs the row count up front; a task learns it only at the end, so the
 * .npy files here reserve a fixed 128-byte header and patch the shape in when they close.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { f32ToF16Bits as toHalf } from '../util/float16.js';

const HEADER = 128;

/** A 2-D float16 .npy written row by row; the shape is filled in on close. */
export class NpyStreamWriter {
  private rows = 0;
  private pos = HEADER;
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    readonly dim: number,
  ) {}

  static async create(file: string, dim: number): Promise<NpyStreamWriter> {
    mkdirSync(path.dirname(file), { recursive: true });
    const fh = await open(`${file}.tmp`, 'w');
    return new NpyStreamWriter(file, fh, dim);
  }

  async append(v: Float32Array): Promise<void> {
    if (v.length !== this.dim) throw new RangeError(`${this.file}: row of ${v.length} values, expected ${this.dim}`);
    const b = new Uint8Array(2 * v.length);
    for (let i = 0; i < v.length; i++) {
      const h = toHalf(v[i]);
      b[2 * i] = h & 0xff;
      b[2 * i + 1] = h >>> 8;
    }
    this.chunks.push(b);
    this.buffered += b.length;
    this.rows++;
    if (this.buffered >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    if (!this.buffered) return;
    const all = Buffer.concat(this.chunks);
    await this.fh.write(all, 0, all.length, this.pos);
    this.pos += all.length;
    this.chunks = [];
    this.buffered = 0;
  }

  async close(): Promise<{ path: string; rows: number }> {
    await this.flush();
    await this.fh.write(npyHeader(this.rows, this.dim), 0, HEADER, 0);
    await this.fh.close();
    await rename(`${this.file}.tmp`, this.file);
    return { path: this.file, rows: this.rows };
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => {});
    await rm(`${this.file}.tmp`, { force: true });
  }
}

function npyHeader(rows: number, dim: number): Buffer {
  const dict = `{'descr': '<f2', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  const b = Buffer.alloc(HEADER, 0x20);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(b, 0);
  b.writeUInt16LE(HEADER - 10, 8);
  b.write(dict, 10, 'latin1');
  b[HEADER - 1] = 0x0a;
  return b;
}

export interface EmitRow {
  id: string;
  caption: string | null;
  url: string | null;
  similarity: number | null;
  width: number | null;
  height: number | null;
  source: string | null;
}

/** One task's part of the clip-retrieval layout. */
export class RetrievalEmitter {
  private meta: EmitRow[] = [];
  private constructor(
    private readonly outDir: string,
    private readonly part: number,
    private readonly img: NpyStreamWriter | null,
    private readonly txt: NpyStreamWriter | null,
  ) {}

  static async create(outDir: string, part: number, dim: number, withImages: boolean, withTexts: boolean): Promise<RetrievalEmitter> {
    const img = withImages ? await NpyStreamWriter.create(path.join(outDir, 'img_emb', `img_emb_${part}.npy`), dim) : null;
    const txt = withTexts ? await NpyStreamWriter.create(path.join(outDir, 'text_emb', `text_emb_${part}.npy`), dim) : null;
    return new RetrievalEmitter(outDir, part, img, txt);
  }

  async add(meta: EmitRow, image?: Float32Array, text?: Float32Array): Promise<void> {
    if (this.img) {
      if (!image) throw new Error(`--emit-npy: row ${meta.id} has no image embedding`);
      await this.img.append(image);
    }
    if (this.txt) {
      if (!text) throw new Error(`--emit-npy: row ${meta.id} has no text embedding`);
      await this.txt.append(text);
    }
    this.meta.push(meta);
  }

  async close(): Promise<string[]> {
    const files: string[] = [];
    if (this.img) files.push((await this.img.close()).path);
    if (this.txt) files.push((await this.txt.close()).path);
    const m = this.meta;
    const col = <T>(f: (r: EmitRow) => T) => m.map(f);
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'id', data: col((r) => r.id), type: 'STRING', nullable: false },
        { name: 'caption', data: col((r) => r.caption), type: 'STRING' },
        { name: 'url', data: col((r) => r.url), type: 'STRING' },
        { name: 'similarity', data: col((r) => r.similarity), type: 'DOUBLE' },
        { name: 'width', data: col((r) => r.width), type: 'INT32' },
        { name: 'height', data: col((r) => r.height), type: 'INT32' },
        { name: 'source', data: col((r) => r.source), type: 'STRING' },
      ],
    });
    const file = path.join(this.outDir, 'metadata', `metadata_${this.part}.parquet`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, new Uint8Array(buf));
    await rename(`${file}.tmp`, file);
    files.push(file);
    return files;
  }
}
