/**
 * Writes the mixture's rows in the planned order with bounded memory. The order is random across the
 * inputs, so rows are not fetched one by one: each input is read once, front to back, and every selected
 * row is appended to the bucket that holds its range of output positions (a shuffle as a file layout, see
 * docs/ARCHITECTURE.md). Each bucket is then loaded alone, put in order, and streamed to the shard writer.
 * Memory: one bucket (about 48 MiB of decoded rows) plus a few bytes per input row and per output row.
 */
import type { Compression } from '../write/compression.js';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpName, writeFileAtomic } from '../write/atomic.js';
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
  compression?: Compression;
  /** Bucket size target in bytes (tests use a small one to exercise many buckets). */
  bucketBytes?: number;
  onProgress?: (rows: number) => void;
}

export interface WriteResult {
  shards: ShardInfo[];
  prompts: Record<string, PromptCounts>;
}

/**
 * A map task's output: records appended per bucket of output positions, buffered and flushed together into
 * ONE file as segments, with an index (`.idx.json`: bucket, offset, length per segment) written last. A write
 * task reads bucket b's segments from every map task's file, so the shuffle makes M files, not M x B.
 */
export class SegmentSpill {
  private readonly pending: Buffer[][];
  private buffered = 0;
  private fd: number;
  private offset = 0;
  private readonly segments: [number, number, number][] = [];
  private readonly tmp: string;
  constructor(
    readonly file: string,
    readonly count: number,
    private readonly limit = 16 << 20,
  ) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.tmp = tmpName(file);
    this.fd = openSync(this.tmp, 'w');
    this.pending = Array.from({ length: count }, () => []);
  }
  append(b: number, chunk: Buffer): void {
    this.pending[b]!.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > this.limit) this.flush();
  }
  private flush(): void {
    this.pending.forEach((chunks, b) => {
      if (!chunks.length) return;
      const start = this.offset;
      for (const c of chunks) {
        let off = 0;
        while (off < c.length) off += writeSync(this.fd, c, off);
        this.offset += c.length;
      }
      this.segments.push([b, start, this.offset - start]);
      this.pending[b] = [];
    });
    this.buffered = 0;
  }
  /** Flushes, renames the data into place, then writes the index: the index's presence means the file is whole. */
  close(): string[] {
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.tmp, this.file);
    writeFileAtomic(`${this.file}.idx.json`, JSON.stringify(this.segments));
    return [this.file, `${this.file}.idx.json`];
  }
}

/** Bucket b's records from every map file, concatenated in file order. */
function readBucket(files: readonly string[], b: number): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const segs = JSON.parse(readFileSync(`${f}.idx.json`, 'utf8')) as [number, number, number][];
    const mine = segs.filter((s) => s[0] === b);
    if (!mine.length) continue;
    const fd = openSync(f, 'r');
    try {
      for (const [, off, len] of mine) {
        const buf = Buffer.allocUnsafe(len);
        let got = 0;
        while (got < len) got += readSync(fd, buf, got, len - got, off + got);
        parts.push(buf);
      }
    } finally {
      closeSync(fd);
    }
  }
  return Buffer.concat(parts);
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

/** How output positions are cut into buckets: one bucket of decoded rows (about 48 MiB) is in memory at a time. */
export interface MixLayout {
  total: number;
  bucketRows: number;
  buckets: number;
}

export function mixLayout(datasets: readonly InputDataset[], streams: readonly KindStream[], bucketBytes = 48 << 20, minBuckets = 1): MixLayout {
  const total = streams.reduce((a, s) => a + s.row.length, 0);
  const inBytes = datasets.reduce((a, d) => a + d.bytes, 0);
  const inRows = datasets.reduce((a, d) => a + d.rows, 0);
  // A decoded row costs its payload plus several hundred bytes of JS objects; Parquet bytes understate both.
  const perRow = 600 + (2 * inBytes) / Math.max(1, inRows);
  let bucketRows = Math.max(1, Math.floor(bucketBytes / perRow));
  bucketRows = Math.max(bucketRows, Math.ceil(total / 1024));
  // at least a bucket per writer, so every write task has work
  bucketRows = Math.max(1, Math.min(bucketRows, Math.ceil(total / minBuckets)));
  return { total, bucketRows, buckets: Math.max(1, Math.ceil(total / bucketRows)) };
}

export interface MapRequest {
  datasets: readonly { dir: string; layout: InputDataset['manifest']['layout']; shards: readonly { path: string; rows: number; start: number }[]; rows: number }[];
  /** Per source: its dataset and its dataset rows (ascending). */
  sources: readonly { dataset: number; rows: Uint32Array }[];
  prompts: readonly (readonly string[] | undefined)[];
  seed: Seed;
  index: PositionIndex;
  layout: MixLayout;
}

/**
 * The map side of the shuffle: reads the given input shards once, front to back, and appends every selected
 * row to the bucket that holds its output position(s). Returns the prompt counts per source name.
 */
export async function mapShards(req: MapRequest, shards: readonly { dataset: number; shard: number }[], spill: SegmentSpill, onRows?: (n: number) => void): Promise<Record<string, PromptCounts>> {
  const { offset, start, positions } = req.index;
  const prompts: Record<string, PromptCounts> = {};
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
  for (const { dataset: di, shard } of shards) {
    const ds = req.datasets[di]!;
    const sh = ds.shards[shard]!;
    // Shard row → global key, or -1 when the row is not in the mixture.
    const keyOf = new Int32Array(sh.rows).fill(-1);
    req.sources.forEach((s, i) => {
      if (s.dataset !== di) return;
      // the source's rows are ascending: find those inside this shard
      let lo = 0, hi = s.rows.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (s.rows[mid]! < sh.start) lo = mid + 1;
        else hi = mid;
      }
      for (let r = lo; r < s.rows.length && s.rows[r]! < sh.start + sh.rows; r++) {
        if (start[offset[i]! + r + 1]! > start[offset[i]! + r]!) keyOf[s.rows[r]! - sh.start] = offset[i]! + r;
      }
    });
    if (!keyOf.some((k) => k >= 0)) continue;
    const pf = await openParquet(path.join(ds.dir, sh.path));
    for (const g of pf.groups) {
      for (const sl of slices(g, BATCH_ROWS)) {
        let any = false;
        for (let r = sl.start; r < sl.end && !any; r++) any = keyOf[r]! >= 0;
        if (!any) continue;
        const rows = await readRowGroup(pf, sl);
        rows.forEach((row, j) => {
          const key = keyOf[sl.start + j]!;
          if (key < 0) return;
          const si = sourceOfKey(key);
          const rec = toMixture(row, ds.layout);
          const ps = req.prompts[si];
          if (ps?.length) applyPrompt(rec, ps, req.seed, (prompts[rec.source] ??= { applied: 0, recorded: 0 }));
          const images = rec.images;
          const json = Buffer.from(JSON.stringify({ ...rec, images: images.map((im) => (im ? { path: im.path } : null)) }));
          for (let q = start[key]!; q < start[key + 1]!; q++) {
            const pos = positions[q]!;
            spill.append(Math.floor(pos / req.layout.bucketRows), encode(pos, json, images));
          }
        });
        onRows?.(rows.length);
      }
    }
  }
  return prompts;
}

/** The write side: buckets [from, to) from every map file, each put in order and streamed to the writer. */
export function writeBuckets(files: readonly string[], from: number, to: number, layout: MixLayout, writer: ShardWriter, onRows?: (n: number) => void): void {
  for (let b = from; b < to; b++) {
    const first = b * layout.bucketRows;
    const n = Math.min(layout.bucketRows, layout.total - first);
    const slot: (MixtureRecord | undefined)[] = new Array(n);
    const buf = readBucket(files, b);
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
    onRows?.(n);
  }
}

/**
 * Writes the mixture in one process (map then write over everything); returns its shards and the prompt
 * counts per source. The stage runs the same two halves as rank tasks (tasks.ts).
 * @example await writeMixture({ outDir, datasets, sources, streams, prompts, seed: 0, columns: [] })
 */
export async function writeMixture(req: WriteRequest): Promise<WriteResult> {
  const layout = mixLayout(req.datasets, req.streams, req.bucketBytes);
  const index = positionIndex(req.sources.map((s) => s.rows.length), req.streams);
  const file = path.join(req.outDir, '_mix_tmp', 'map-00000.bin');
  const spill = new SegmentSpill(file, layout.buckets);
  const shards = req.datasets.flatMap((d, di) => d.shards.map((_s, shard) => ({ dataset: di, shard })));
  const mapReq: MapRequest = { datasets: req.datasets.map((d) => ({ dir: d.dir, layout: d.manifest.layout, shards: d.shards, rows: d.rows })), sources: req.sources, prompts: req.prompts, seed: req.seed, index, layout };
  const prompts = await mapShards(mapReq, shards, spill);
  const files = spill.close();
  const writer = new ShardWriter({ outDir: req.outDir, layout: 'mixture', columns: req.columns, rank: 0, stage: 'mix', ...(req.maxShardRows ? { maxShardRows: req.maxShardRows } : {}), ...(req.compression ? { compression: req.compression } : {}) });
  let written = 0;
  writeBuckets([files[0]!], 0, layout.buckets, layout, writer, (n) => req.onProgress?.((written += n)));
  const out = writer.close();
  rmSync(path.join(req.outDir, '_mix_tmp'), { recursive: true, force: true });
  return { shards: out, prompts };
}
