/**
 * One export task: the output shards its rank owns (contiguous runs of input rows), each written whole:
 * a WebDataset tar with its `_stats.json`, or a LLaVA chunk (JSON lines, merged by the manifest step) with
 * its images. A shard's name, keys and bytes depend only on its row range, never on how many tasks run.
 */
import path from 'node:path';
import type { Layout } from '../records.js';
import type { RejectFile, TaskContext, TaskOutput } from '../run/contract.js';
import { Accounting, type Stats } from '../write/accounting.js';
import { writeFileAtomic, writeJsonAtomic } from '../write/atomic.js';
import { RejectWriter } from '../write/rejects.js';
import type { ShardInfo } from '../write/shard-writer.js';
import { rowRange, type InputShard } from './rows.js';
import { EXPORT_COLUMNS, llavaSample, unify, webdatasetParts } from './sample.js';
import { TarShard } from './tar.js';

export type ExportFormat = 'webdataset' | 'llava';

export interface ExportSpec {
  format: ExportFormat;
  layout: Layout;
  shards: InputShard[];
  total: number;
  samplesPerShard: number;
  /** Digits of a shard number and of a sample's place in its shard (img2dataset's oom_shard_count, oom_sample_per_shard). */
  shardDigits: number;
  keyDigits: number;
  /** Output shard numbers per rank. */
  assignment: number[][];
  /** LLaVA: the instructions a caption row is asked with. */
  captionPrompts: string[];
  /** LLaVA: where the chunks go until the manifest step merges them. */
  work: string;
}

export function shardName(spec: Pick<ExportSpec, 'shardDigits'>, s: number): string {
  return String(s).padStart(spec.shardDigits, '0');
}

/** img2dataset's compute_key: the shard number, then the place in the shard, zero-padded. */
export function sampleKey(spec: Pick<ExportSpec, 'shardDigits' | 'keyDigits'>, s: number, inShard: number): string {
  return shardName(spec, s) + (spec.keyDigits ? String(inShard).padStart(spec.keyDigits, '0') : '');
}

export function chunkPath(work: string, name: string): string {
  return path.join(work, `${name}.jsonl`);
}

export async function runTask(spec: ExportSpec, ctx: TaskContext): Promise<TaskOutput> {
  const shards: ShardInfo[] = [];
  const rejects: RejectFile[] = [];
  const files: string[] = [];
  const stats: Stats = {};
  const kinds: Record<string, number> = {};
  for (const s of spec.assignment[ctx.rank] ?? []) {
    const o = await exportShard(spec, s, ctx, kinds);
    if (o.shard) shards.push(o.shard);
    if (o.reject) rejects.push(o.reject);
    files.push(...o.files);
    for (const [src, st] of Object.entries(o.stats)) {
      const t = (stats[src] ??= { read: 0, kept: 0, rejected: 0, rejected_by_reason: {} });
      t.read += st.read;
      t.kept += st.kept;
      t.rejected += st.rejected;
      for (const [r, n] of Object.entries(st.rejected_by_reason)) t.rejected_by_reason[r] = (t.rejected_by_reason[r] ?? 0) + n;
    }
  }
  return { shards, ...(rejects.length ? { rejects } : {}), stats, files: files.map((f) => path.relative(ctx.outDir, f)), extra: { kinds } };
}

async function exportShard(spec: ExportSpec, s: number, ctx: TaskContext, kinds: Record<string, number>) {
  const name = shardName(spec, s);
  const start = s * spec.samplesPerShard;
  const end = Math.min(spec.total, start + spec.samplesPerShard);
  const acct = new Accounting();
  // one rejects file per output shard: its name and bytes do not depend on --tasks either
  const rejects = new RejectWriter(ctx.outDir, s, 'export');
  const status: Record<string, number> = {};
  const tar = spec.format === 'webdataset' ? new TarShard(path.join(ctx.outDir, `${name}.tar`)) : undefined;
  const lines: string[] = [];
  let n = 0;
  for await (const r of rowRange(spec.shards, start, end, EXPORT_COLUMNS)) {
    const key = sampleKey(spec, s, r.index - start);
    const u = unify(r.row, spec.layout);
    const reject = (reason: string, detail: string) => {
      acct.rejected(u.source, reason);
      status[reason] = (status[reason] ?? 0) + 1;
      rejects.write({ source: u.source, file: r.shard.rel, location: `row ${r.inShard}`, reason, detail, id: u.id, key });
    };
    if (tar) {
      const parts = webdatasetParts(u, key);
      if (!Array.isArray(parts)) reject(parts.reason, parts.detail);
      else {
        await tar.add(key, parts);
        acct.kept(u.source);
        kinds[u.kind] = (kinds[u.kind] ?? 0) + 1;
        status.success = (status.success ?? 0) + 1;
      }
    } else {
      const smp = llavaSample(u, spec.captionPrompts);
      if ('reason' in smp) reject(smp.reason, smp.detail);
      else {
        const entry: Record<string, unknown> = { id: key };
        if (smp.image) {
          const rel = `${name}/${key}.${smp.image.ext}`;
          writeFileAtomic(path.join(ctx.outDir, 'images', rel), smp.image.bytes);
          entry.image = rel;
        }
        entry.conversations = smp.conversations;
        lines.push(JSON.stringify(entry));
        acct.kept(u.source);
        kinds[u.kind] = (kinds[u.kind] ?? 0) + 1;
        status.success = (status.success ?? 0) + 1;
      }
    }
    if (++n % 256 === 0) ctx.report(0, 256);
  }
  ctx.report(end - start, n % 256);
  const reject = rejects.close();
  const files: string[] = [];
  let shard: ShardInfo | undefined;
  if (tar) {
    const { bytes, sha256 } = await tar.close();
    shard = { path: `${name}.tar`, rows: tar.samples, bytes, sha256 };
    // img2dataset writes one of these beside each shard; durations are left out, so the bytes repeat
    const failed = n - tar.samples;
    const sorted = Object.fromEntries(Object.keys(status).sort().map((k) => [k, status[k]!]));
    const statsFile = path.join(ctx.outDir, `${name}_stats.json`);
    writeJsonAtomic(statsFile, { count: n, successes: tar.samples, failed_to_export: failed, status_dict: sorted });
    files.push(statsFile);
  } else {
    const chunk = chunkPath(spec.work, name);
    writeFileAtomic(chunk, lines.length ? lines.join('\n') + '\n' : '');
    files.push(chunk);
  }
  return { shard, reject, files, stats: acct.sources };
}
