/**
 * One download task: a contiguous run of the input dataset's rows, each URL fetched, checked, resized and
 * encoded, written in input order; every row kept or rejected with a reason. Requests run `concurrency` at
 * a time with at most `perHost` to one host, so a slow site holds its own slots, not the task's.
 */
import { createHash } from 'node:crypto';
import pLimit, { type LimitFunction } from 'p-limit';
import os from 'node:os';
import { openParquet, readRowGroup, slices } from '../io/parquet.js';
import { mapOrdered } from '../run/ordered.js';
import type { TaskContext, TaskOutput } from '../run/contract.js';
import { Accounting } from '../write/accounting.js';
import { RejectWriter } from '../write/rejects.js';
import { ShardWriter, type Row } from '../write/shard-writer.js';
import type { Compression } from '../write/compression.js';
import { Fetcher, type FetchOptions } from './http.js';
import { processImage, type ImageOptions } from './image.js';

export interface DownloadSpec {
  /** The input dataset's shards in manifest order: absolute path, the path the rejects name, rows. */
  shards: { path: string; name: string; rows: number }[];
  /** Global row range [start, end) of each rank. */
  ranges: [number, number][];
  /** Optional columns to write: the input's and the download's own. */
  columns: string[];
  fetch: FetchOptions;
  image: ImageOptions;
  /** Requests in flight per task. */
  concurrency: number;
  shard: { maxShardRows?: number; maxShardBytes?: number; maxRowGroupRows?: number; maxRowGroupBytes?: number; compression?: Compression };
}

/** The columns this stage adds to a caption record (schemas/record-caption.schema.json). */
export const DOWNLOAD_COLUMNS = ['original_width', 'original_height', 'image_sha256', 'http_status', 'final_url'];

type Outcome = { row: Row; fetched: boolean; bytes: number } | { reason: string; detail: string; status?: number; url?: string };

interface Item {
  row: Row;
  shard: string;
  index: number;
}

export async function runTask(spec: DownloadSpec, ctx: TaskContext): Promise<TaskOutput> {
  const [start, end] = spec.ranges[ctx.rank] ?? [0, 0];
  const acct = new Accounting();
  const rejects = new RejectWriter(ctx.outDir, ctx.rank, 'download');
  const writer = new ShardWriter({ outDir: ctx.outDir, layout: 'caption', rank: ctx.rank, columns: spec.columns, ...spec.shard, stage: 'download' });
  const fetcher = new Fetcher(spec.fetch);
  const requests = pLimit(spec.concurrency);
  // decodes and encodes are CPU work: one per core at a time (they run on libuv's pool, sized to the cores by
  // bin/mmcurate), whatever the number of requests in flight; the bodies waiting for one are what memory holds
  const decodes = pLimit(Math.max(2, os.availableParallelism()));
  const hosts = new Map<string, LimitFunction>();
  const perHost = (host: string): LimitFunction => {
    let l = hosts.get(host);
    if (!l) hosts.set(host, (l = pLimit(spec.fetch.perHost)));
    return l;
  };
  let fetchedBytes = 0;
  let passedThrough = 0;
  const statuses: Record<string, number> = {};

  const one = async (it: Item): Promise<Outcome> => {
    const image = it.row.image as { bytes?: Uint8Array | null; path?: string | null } | null;
    if (image?.bytes && image.bytes.length) return { row: it.row, fetched: false, bytes: 0 };
    const url = (typeof image?.path === 'string' && image.path) || (typeof it.row.url === 'string' && it.row.url) || '';
    if (!url) return { reason: 'bad_url', detail: 'the row has neither image bytes nor a URL in image.path or url' };
    let host: string;
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return { reason: 'bad_url', detail: `${u.protocol} URLs are not downloaded (only http and https)`, url };
      host = u.host.toLowerCase();
    } catch {
      return { reason: 'bad_url', detail: `"${url.slice(0, 200)}" is not a URL`, url };
    }
    const hostLimit = perHost(host);
    const got = await hostLimit(() => requests(() => fetcher.fetch(url)));
    if (hostLimit.activeCount === 0 && hostLimit.pendingCount === 0) hosts.delete(host);
    if (got.status !== undefined) statuses[got.status] = (statuses[got.status] ?? 0) + 1;
    if (!got.ok) return { reason: got.reason, detail: got.detail, ...(got.status ? { status: got.status } : {}), url };
    // processImage may move the body to an image thread: its length is read first
    const fetchedLength = got.bytes.length;
    const img = await decodes(() => processImage(got.bytes, spec.image, url.slice(0, 200)));
    if ('reason' in img) return { reason: img.reason, detail: img.detail, status: got.status, url };
    const row: Row = {
      ...it.row,
      image: { bytes: new Uint8Array(img.bytes.buffer, img.bytes.byteOffset, img.bytes.byteLength), path: url },
      url: it.row.url ?? url,
      image_format: img.format,
      width: img.width,
      height: img.height,
      original_width: img.originalWidth,
      original_height: img.originalHeight,
      image_sha256: createHash('sha256').update(img.bytes).digest('hex'),
      http_status: got.status,
      final_url: got.finalUrl,
    };
    return { row, fetched: true, bytes: fetchedLength };
  };

  async function* items(): AsyncGenerator<Item> {
    let at = 0;
    for (const s of spec.shards) {
      const from = Math.max(start, at);
      const to = Math.min(end, at + s.rows);
      if (from < to) {
        const pf = await openParquet(s.path);
        for (const g of pf.groups) {
          const lo = Math.max(g.start, from - at);
          const hi = Math.min(g.end, to - at);
          if (lo >= hi) continue;
          for (const sl of slices({ start: lo, end: hi }, 512)) {
            const rows = await readRowGroup(pf, sl);
            for (let i = 0; i < rows.length; i++) yield { row: rows[i]!, shard: s.name, index: sl.start + i };
          }
        }
      }
      at += s.rows;
    }
  }

  const window = Math.max(64, spec.concurrency * 4);
  try {
    for await (const [it, o] of mapOrdered(items(), window, async (it) => [it, await one(it)] as const)) {
      const source = String(it.row.source ?? 'unknown');
      if ('row' in o) {
        if (!o.fetched) passedThrough++;
        fetchedBytes += o.bytes;
        writer.write(o.row);
        acct.kept(source);
      } else {
        acct.rejected(source, o.reason);
        rejects.write({
          source,
          file: it.shard,
          location: `row ${it.index}`,
          reason: o.reason,
          detail: o.detail,
          ...(typeof it.row.id === 'string' ? { id: it.row.id } : {}),
          ...(o.url ? { url: o.url } : {}),
          ...(o.status ? { status: o.status } : {}),
        });
      }
      ctx.report(1, 1);
    }
  } finally {
    await fetcher.close();
  }
  const shards = writer.close();
  const rej = rejects.close();
  return {
    shards,
    ...(rej ? { rejects: rej } : {}),
    stats: acct.sources,
    extra: { rows: end - start, downloaded_bytes: fetchedBytes, passed_through: passedThrough, http_status: statuses },
  };
}
