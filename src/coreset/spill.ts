/**
 * A shuffle as a file layout (docs/ARCHITECTURE.md): a map task routes each row to a key (a bucket of
 * clusters, or an input part) and appends it to ONE file of its own, in column segments grouped by
 * key, with a JSON index of segments beside it. The task for key b later reads the segments of b
 * from every map task's file. Buffers are flushed at a fixed size, so memory stays bounded.
 */
import { existsSync, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { writeFileAtomic } from '../write/atomic.js';

export type ColType = 'f64' | 'f32' | 'i32' | 'u16';
export interface ColSpec {
  name: string;
  type: ColType;
  /** Values per row (the embedding dimension for an embedding column). */
  width?: number;
}
export type ColArray = Float64Array | Float32Array | Int32Array | Uint16Array;
export type Cols = Record<string, ColArray>;

const CTOR = { f64: Float64Array, f32: Float32Array, i32: Int32Array, u16: Uint16Array } as const;

function alloc(spec: ColSpec, rows: number): ColArray {
  // NOTE: zero-filled allocation; callers fill every row.
  return new CTOR[spec.type](rows * (spec.width ?? 1));
}

interface Segment {
  key: number;
  offset: number;
  rows: number;
}
interface Index {
  specs: ColSpec[];
  segments: Segment[];
}

/** Rows buffered for one key: one growable byte buffer per column (monomorphic byte copies are fast). */
class KeyBuffer {
  rows = 0;
  cols: Buffer[];
  constructor(private readonly rowBytes: number[], private capacity = 256) {
    this.cols = rowBytes.map((rb) => Buffer.allocUnsafe(rb * capacity));
  }
  push(src: Buffer[], i: number): void {
    if (this.rows === this.capacity) {
      this.capacity *= 2;
      this.cols = this.cols.map((c, t) => {
        const n = Buffer.allocUnsafe(this.rowBytes[t] * this.capacity);
        c.copy(n, 0, 0, this.rows * this.rowBytes[t]);
        return n;
      });
    }
    for (let t = 0; t < src.length; t++) {
      const rb = this.rowBytes[t];
      const from = i * rb;
      const to = this.rows * rb;
      const dst = this.cols[t];
      const s = src[t];
      // Buffer#copy is a native memcpy with no view allocated per row.
      if (rb > 32) s.copy(dst, to, from, from + rb);
      else for (let b = 0; b < rb; b++) dst[to + b] = s[from + b];
    }
    this.rows++;
  }
}

function bytesOf(a: ColArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export class SpillWriter {
  private buffers = new Map<number, KeyBuffer>();
  private buffered = 0;
  private offset = 0;
  private readonly segments: Segment[] = [];
  private readonly rowBytes: number;
  private readonly colBytes: number[];

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly specs: ColSpec[],
    private readonly flushBytes: number,
  ) {
    this.colBytes = specs.map((s) => (s.width ?? 1) * CTOR[s.type].BYTES_PER_ELEMENT);
    this.rowBytes = this.colBytes.reduce((a, b) => a + b, 0);
  }

  static async create(path: string, specs: ColSpec[], flushBytes = 64 << 20): Promise<SpillWriter> {
    return new SpillWriter(path, await fsp.open(`${path}.tmp`, 'w'), specs, flushBytes);
  }

  /** Route `count` rows of `cols` (named as the specs) to their `keys`; a negative key drops the row. */
  async add(keys: ArrayLike<number>, cols: Cols, count: number): Promise<void> {
    const src = this.specs.map((s) => {
      const c = cols[s.name];
      if (!c) throw new Error(`spill ${this.path}: column ${s.name} missing`);
      return bytesOf(c);
    });
    for (let i = 0; i < count; i++) {
      if (keys[i] < 0) continue;
      let b = this.buffers.get(keys[i]);
      if (!b) this.buffers.set(keys[i], (b = new KeyBuffer(this.colBytes)));
      b.push(src, i);
    }
    this.buffered += count * this.rowBytes;
    if (this.buffered >= this.flushBytes) await this.flush();
  }

  private async flush(): Promise<void> {
    const keys = [...this.buffers.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      const b = this.buffers.get(key)!;
      if (b.rows === 0) continue;
      this.segments.push({ key, offset: this.offset, rows: b.rows });
      const parts = b.cols.map((c, t) => c.subarray(0, b.rows * this.colBytes[t]));
      const { bytesWritten } = await this.fh.writev(parts);
      this.offset += bytesWritten;
    }
    this.buffers = new Map();
    this.buffered = 0;
  }

  /** Flush, then put the data file and its index in place (index last: it marks the file complete). */
  async close(): Promise<number> {
    await this.flush();
    await this.fh.close();
    await fsp.rename(`${this.path}.tmp`, this.path);
    const index: Index = { specs: this.specs, segments: this.segments };
    writeFileAtomic(`${this.path}.idx.json`, JSON.stringify(index));
    return this.segments.reduce((a, s) => a + s.rows, 0);
  }
}

/** Whether a spill file is complete: its data and its index (written last) are both there. */
export function spillComplete(path: string): boolean {
  return existsSync(path) && existsSync(`${path}.idx.json`);
}

/** Every row spilled under `key` in the given files, in file order then write order. */
export async function readSpilled(paths: string[], key: number): Promise<{ rows: number; cols: Cols }> {
  const plans: { path: string; specs: ColSpec[]; segs: Segment[] }[] = [];
  for (const path of paths) {
    const index = JSON.parse(await fsp.readFile(`${path}.idx.json`, 'utf8')) as Index;
    plans.push({ path, specs: index.specs, segs: index.segments.filter((s) => s.key === key) });
  }
  const specs = plans[0]?.specs ?? [];
  const rows = plans.reduce((a, p) => a + p.segs.reduce((b, s) => b + s.rows, 0), 0);
  const out = specs.map((s) => alloc(s, rows));
  let at = 0;
  for (const p of plans) {
    if (p.segs.length === 0) continue;
    const fh = await fsp.open(p.path, 'r');
    try {
      for (const seg of p.segs) {
        let pos = seg.offset;
        for (let t = 0; t < specs.length; t++) {
          const w = specs[t].width ?? 1;
          const bpe = out[t].BYTES_PER_ELEMENT;
          const bytes = new Uint8Array(out[t].buffer, at * w * bpe, seg.rows * w * bpe);
          let done = 0;
          while (done < bytes.length) {
            const { bytesRead } = await fh.read(bytes, done, bytes.length - done, pos + done);
            if (bytesRead === 0) throw new Error(`${p.path}: truncated spill segment`);
            done += bytesRead;
          }
          pos += bytes.length;
        }
        at += seg.rows;
      }
    } finally {
      await fh.close();
    }
  }
  return { rows, cols: Object.fromEntries(specs.map((s, t) => [s.name, out[t]])) };
}
