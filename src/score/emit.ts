/**
 * `--emit-npy`: the clip-retrieval / LAION embedding layout next to the shards, one part per task, row-aligned:
 * `img_emb/img_emb_{i}.npy`, `text_emb/text_emb_{i}.npy` (float16, L2-normalised, [rows, dim]) and
 * `metadata/metadata_{i}.parquet` (id, caption/text, url, similarity, width, height, source).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { codec, compressors, type Codec, type Compression } from '../write/codecs.js';
import { f32ToF16 } from '../util/float16.js';
import { NpyWriter } from '../util/npy.js';
import { writeFileAtomic } from '../write/atomic.js';

/** A 2-D float16 .npy written row by row (rows converted into a ~1 MiB buffer per write); the shape is filled in on close. */
export class NpyStreamWriter {
  private readonly buf: Uint16Array;
  private used = 0;

  private constructor(
    readonly file: string,
    private readonly w: NpyWriter,
    readonly dim: number,
  ) {
    this.buf = new Uint16Array(Math.max(1, Math.floor((1 << 19) / dim)) * dim);
  }

  static async create(file: string, dim: number): Promise<NpyStreamWriter> {
    mkdirSync(path.dirname(file), { recursive: true });
    return new NpyStreamWriter(file, await NpyWriter.create(file, 'float16', undefined, dim), dim);
  }

  async append(v: Float32Array): Promise<void> {
    if (v.length !== this.dim) throw new RangeError(`${this.file}: row of ${v.length} values, expected ${this.dim}`);
    f32ToF16(v, this.buf.subarray(this.used, this.used + v.length));
    this.used += v.length;
    if (this.used === this.buf.length) await this.flush();
  }

  private async flush(): Promise<void> {
    if (!this.used) return;
    await this.w.write(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  async close(): Promise<{ path: string; rows: number }> {
    await this.flush();
    await this.w.close();
    return { path: this.file, rows: this.w.rowsWritten };
  }
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
    private readonly codec: Codec,
  ) {}

  static async create(outDir: string, part: number, dim: number, withImages: boolean, withTexts: boolean, compression?: Compression): Promise<RetrievalEmitter> {
    const img = withImages ? await NpyStreamWriter.create(path.join(outDir, 'img_emb', `img_emb_${part}.npy`), dim) : null;
    const txt = withTexts ? await NpyStreamWriter.create(path.join(outDir, 'text_emb', `text_emb_${part}.npy`), dim) : null;
    return new RetrievalEmitter(outDir, part, img, txt, codec(compression));
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
      codec: this.codec.name,
      compressors: compressors(this.codec),
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
    writeFileAtomic(file, new Uint8Array(buf));
    files.push(file);
    return files;
  }
}
