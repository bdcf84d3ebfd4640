/**
 * Writes the mixture's rows in the planned order with bounded memory. The order is random across the
 * inputs, so rows are not fetched one by one: each input is read once, front to back, and every selected
 * row is appended to the bucket file that holds its range of output positions (a shuffle as a file
 * layout, see DESIGN.md). Each bucket is then loaded alone, put in order, and streamed to the shard writer.
 * Memory: one bucket (about 48 MiB of decoded rows) plus a few bytes per input row and per output row.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import type { Image, MixtureRecord } from '../records.js';
import { ShardWriter, type ShardInfo } from '../write/shard-writer.js';
import { BATCH_ROWS, type InputDataset, type InputSource } from './inputs.js';
import { mixOrder, type KindStream } from './order.js';
import { applyPrompt, type PromptCounts } from './prompts.js';
import type { Seed } from './random.js';
import { toMixture } from './unify.js';

export interface WriteRequest {
  /** The (staging) output folder. */
  outDir: string;
  datasets: readonly InputDataset[];
  /** Parallel to the plan's sources: stream source indices point here. */
  sources: readonly InputSource[];
  streams: readonly KindStream[];
  prompts: readonly (readonly string[] | undefined)[];
  seed: Seed;
  /** Optional columns to write (clip_score when an input has it). */
  columns: readonly string[];
  maxShardRows?: number;
  /** Bucket size target in bytes (tests use a small one to exercise many buckets). */
  bucketBytes?: number;
  onProgress?: (rows: number) => void;
}

export interface WriteResult {
  shards: ShardInfo[];
  prompts: Record<string, PromptCounts>;
}

/** Buffered appends to many bucket files, flushed together so memory stays bounded. */
class Buckets {
  private readonly pending: Buffer[][];
  private buffered = 0;
  constructor(
    private readonly dir: string,
    readonly count: number,
    private readonly limit = 16 << 20,
  ) {
    mkdirSync(dir, { recursive: true });
    this.pending = Array.from({ length: count }, () => []);
  }
  file(b: number): string {
    return path.join(this.dir, `bucket-${String(b).padStart(5, '0')}.bin`);
  }
  append(b: number, chunk: Buffer): void {
    this.pending[b]!.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > this.limit) this.flush();
  }
  flush(): void {
    this.pending.forEach((chunks, b) => {
      if (!chunks.length) return;
      const fd = openSync(this.file(b), 'a');
      try {
        for (const c of chunks) {
          let off = 0;
          while (off < c.length) off += writeSync(fd, c, off);
        }
      } finally {
        closeSync(fd);
      }
      this.pending[b] = [];
    });
    this.buffered = 0;
  }
}

/** [u32 pos][u32 json length][u16 images][i32 byte length per image, -1 for none][json][image bytes...] */
function encode(pos: number, json: Buffer, images: (Image | null)[]): Buffer {
  const lens = images.map((im) => (im?.bytes ? im.bytes.length : -1));
  const head = 10 + 4 * images.length;
  const total = head + json.length + lens.reduce((a, n) => a + Math.max(0, n), 0);
  const buf = Buffer.allocUnsafe(total);
  buf.writeUInt32LE(pos, 0);
  buf.writeUInt32LE(json.length, 4);
  buf.writeUInt16LE(images.length, 8);
  lens.forEach((n, i) => buf.writeInt32LE(n, 10 + 4 * i));
  json.copy(buf, head);
  let at = head + json.length;
  for (const im of images) {
    if (im?.bytes) {
      buf.set(im.bytes, at);
      at += im.bytes.length;
    }
  }
  return buf;
}

function decode(buf: Buffer, at: number): { pos: number; rec: MixtureRecord; next: number } {
  const pos = buf.readUInt32LE(at);
  const jsonLen = buf.readUInt32LE(at + 4);
  const n = buf.readUInt16LE(at + 8);
  const lens: number[] = [];
  for (let i = 0; i < n; i++) lens.push(buf.readInt32LE(at + 10 + 4 * i));
  let p = at + 10 + 4 * n;
  const rec = JSON.parse(buf.toString('utf8', p, p + jsonLen)) as MixtureRecord;
  p += jsonLen;
  rec.images = rec.images.map((im, i) => {
    if (!im) return null;
    const len = lens[i]!;
    if (len < 0) return { bytes: null, path: im.path };
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset + p, len).slice();
    p += len;
    return { bytes, path: im.path };
  });
  return { pos, rec, next: p };
}

export interface PositionIndex {
  /** Global key of a source's first row: key = offset[source] + row. */
  offset: Float64Array;
  /** CSR: the output positions of key k are positions[start[k]] .. positions[start[k + 1] - 1]. */
  start: Uint32Array;
  positions: Uint32Array;
}

/**
 * Where each selected source row goes in the output (a row used in two epochs has two positions), as CSR
 * over a global row key. Two passes over the order, 4 bytes per source row and per output row.
 */
export function positionIndex(sourceRows: readonly number[], streams: readonly KindStream[]): PositionIndex {
  const total = streams.reduce((a, s) => a + s.row.length, 0);
  const offset = new Float64Array(sourceRows.length + 1);
  sourceRows.forEach((n, i) => (offset[i + 1] = offset[i]! + n));
  const keys = offset[sourceRows.length]!;
  const start = new Uint32Array(keys + 1);
  for (const c of mixOrder(streams)) for (let j = 0; j < c.row.length; j++) start[offset[c.source[j]!]! + c.row[j]! + 1]!++;
  for (let k = 0; k < keys; k++) start[k + 1]! += start[k]!;
  const fill = start.slice(0, keys);
  const positions = new Uint32Array(total);
  for (const c of mixOrder(streams)) for (let j = 0; j < c.row.length; j++) positions[fill[offset[c.source[j]!]! + c.row[j]!]!++] = c.start + j;
  return { offset, start, positions };
}

/**
 * Writes the mixture; returns its shards and the prompt counts per source.
 * @example await writeMixture({ outDir, datasets, sources, streams, prompts, seed: 0, columns: [] })
 */
export async function writeMixture(req: WriteRequest): Promise<WriteResult> {
  const total = req.streams.reduce((a, s) => a + s.row.length, 0);
  const { offset, start, positions } = positionIndex(
    req.sources.map((s) => s.rows.length),
    req.streams,
  );

  const inBytes = req.datasets.reduce((a, d) => a + d.bytes, 0);
  const inRows = req.datasets.reduce((a, d) => a + d.rows, 0);
  // A decoded row costs its payload plus several hundred bytes of JS objects; Parquet bytes understate both.
  const perRow = 600 + (2 * inBytes) / Math.max(1, inRows);
  let bucketRows = Math.max(1, Math.floor((req.bucketBytes ?? 48 << 20) / perRow));
  bucketRows = Math.max(bucketRows, Math.ceil(total / 1024));
  const buckets = new Buckets(path.join(req.outDir, '_mix_tmp'), Math.max(1, Math.ceil(total / bucketRows)));

  const prompts: Record<string, PromptCounts> = {};
  for (const [di, ds] of req.datasets.entries()) {
    // Dataset row → global key, or -1 when the row is not in the mixture.
    const keyOf = new Int32Array(ds.rows).fill(-1);
    req.sources.forEach((s, i) => {
      if (s.dataset !== di) return;
      for (let r = 0; r < s.rows.length; r++) if (start[offset[i]! + r + 1]! > start[offset[i]! + r]!) keyOf[s.rows[r]!] = offset[i]! + r;
    });
    const sourceOfKey = (key: number): number => {
      let lo = 0;
      let hi = req.sources.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (offset[mid]! <= key) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    for (const sh of ds.shards) {
      const pf = await openParquet(path.join(ds.dir, sh.path));
      for (const g of pf.groups) {
        for (const sl of slices(g, BATCH_ROWS)) {
          let any = false;
          for (let r = sl.start; r < sl.end && !any; r++) any = keyOf[sh.start + r]! >= 0;
          if (!any) continue;
          const rows = await readRowGroup(pf, sl);
          rows.forEach((row, j) => {
            const key = keyOf[sh.start + sl.start + j]!;
            if (key < 0) return;
            const si = sourceOfKey(key);
            const rec = toMixture(row, ds.manifest.layout);
            const ps = req.prompts[si];
            if (ps?.length) applyPrompt(rec, ps, req.seed, (prompts[rec.source] ??= { applied: 0, recorded: 0 }));
            const images = rec.images;
            const json = Buffer.from(JSON.stringify({ ...rec, images: images.map((im) => (im ? { path: im.path } : null)) }));
            for (let q = start[key]!; q < start[key + 1]!; q++) {
              const pos = positions[q]!;
              buckets.append(Math.floor(pos / bucketRows), encode(pos, json, images));
            }
          });
        }
      }
    }
  }
  buckets.flush();

  const writer = new ShardWriter({ outDir: req.outDir, layout: 'mixture', columns: req.columns, rank: 0, stage: 'mix', ...(req.maxShardRows ? { maxShardRows: req.maxShardRows } : {}) });
  let written = 0;
  for (let b = 0; b < buckets.count; b++) {
    const first = b * bucketRows;
    const n = Math.min(bucketRows, total - first);
    const slot: (MixtureRecord | undefined)[] = new Array(n);
    let buf: Buffer;
    try {
      buf = readFileSync(buckets.file(b));
    } catch {
      buf = Buffer.alloc(0);
    }
    for (let at = 0; at < buf.length; ) {
      const d = decode(buf, at);
      slot[d.pos - first] = d.rec;
      at = d.next;
    }
    for (let j = 0; j < n; j++) {
      const rec = slot[j];
      if (!rec) throw new Error(`internal: mixture position ${first + j} was not filled`);
      writer.write(rec as unknown as Record<string, unknown>);
    }
    written += n;
    req.onProgress?.(written);
    rmSync(buckets.file(b), { force: true });
  }
  const shards = writer.close();
  rmSync(path.join(req.outDir, '_mix_tmp'), { recursive: true, force: true });
  return { shards, prompts };
}
