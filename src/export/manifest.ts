/**
 * The export's last step: the manifest (a merge of the export markers), img2dataset's total `stats.json`
 * for WebDataset, and for LLaVA the one `llava.json` trainers read, streamed from the per-shard chunks in
 * shard order (one entry per line inside a JSON list), never held in memory whole.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Layout } from '../records.js';
import type { TaskContext, TaskOutput, TaskResult } from '../run/contract.js';
import { readResults } from '../run/markers.js';
import { mergeStats, totals, type Stats } from '../write/accounting.js';
import { tmpName, writeJsonAtomic } from '../write/atomic.js';
import { buildManifest, writeManifest } from '../write/manifest.js';
import type { ShardInfo } from '../write/shard-writer.js';
import type { ExportFormat } from './task.js';

export interface ExportManifestSpec {
  format: ExportFormat;
  layout: Layout;
  input: string;
  world: number;
  outShards: number;
  samplesPerShard: number;
  shardDigits: number;
  work: string;
  command: string[];
}

export async function runTask(spec: ExportManifestSpec, ctx: TaskContext): Promise<TaskOutput> {
  const results = readResults(ctx.outDir, 'export', spec.world);
  const stats: Stats = {};
  const kinds: Record<string, number> = {};
  for (const r of results) {
    mergeStats(stats, r.stats);
    for (const [k, n] of Object.entries((r.extra as { kinds?: Record<string, number> } | undefined)?.kinds ?? {})) kinds[k] = (kinds[k] ?? 0) + n;
  }
  const files = ['manifest.json'];
  let merged: TaskResult[];
  if (spec.format === 'webdataset') {
    const t = totals(stats);
    const status: Record<string, number> = { success: t.kept };
    for (const s of Object.values(stats)) for (const [r, n] of Object.entries(s.rejected_by_reason)) status[r] = (status[r] ?? 0) + n;
    writeJsonAtomic(path.join(ctx.outDir, 'stats.json'), { count: t.read, successes: t.kept, failed_to_export: t.rejected, shards: spec.outShards, status_dict: Object.fromEntries(Object.keys(status).sort().map((k) => [k, status[k]!])) });
    files.push('stats.json');
    merged = results;
  } else {
    const chunks = results.flatMap((r) => (r.files ?? []).filter((f) => f.endsWith('.jsonl'))).sort();
    const info = mergeLlava(ctx.outDir, chunks.map((c) => path.join(ctx.outDir, c)));
    merged = [{ rank: 0, shards: [info], stats, rejects: results.flatMap((r) => (r.rejects === undefined ? [] : Array.isArray(r.rejects) ? r.rejects : [r.rejects])) }];
  }
  const m = buildManifest({
    stage: 'export',
    layout: spec.layout,
    command: spec.command,
    results: merged,
    columns: [],
    kinds: Object.fromEntries(Object.keys(kinds).sort().map((k) => [k, kinds[k]!])),
    extra: {
      export: {
        format: spec.format,
        input: spec.input,
        samples_per_shard: spec.samplesPerShard,
        ...(spec.format === 'webdataset'
          ? { shards: `{${'0'.repeat(spec.shardDigits)}..${String(spec.outShards - 1).padStart(spec.shardDigits, '0')}}.tar`, layout: 'img2dataset (pairs), Megatron-Energon interleaved (documents)' }
          : { json: 'llava.json', image_folder: 'images' }),
      },
    },
  });
  m.tasks = { world: spec.world };
  writeManifest(ctx.outDir, m);
  if (spec.format === 'llava' && existsSync(spec.work)) {
    rmSync(spec.work, { recursive: true, force: true });
    const parent = path.dirname(spec.work);
    if (existsSync(parent) && readdirSync(parent).length === 0) rmSync(parent, { recursive: true });
  }
  return { shards: [], stats: {}, files };
}

/** `[`, the chunks' lines joined by `,`, `]`: a JSON list written a buffer at a time, then renamed into place. */
function mergeLlava(outDir: string, chunks: string[]): ShardInfo {
  const file = path.join(outDir, 'llava.json');
  const tmp = tmpName(file);
  const out = openSync(tmp, 'w');
  const hash = createHash('sha256');
  let bytes = 0;
  let rows = 0;
  const put = (b: Uint8Array) => {
    hash.update(b);
    for (let off = 0; off < b.length; ) off += writeSync(out, b, off);
    bytes += b.length;
  };
  const buf = Buffer.alloc(1 << 20);
  try {
    put(Buffer.from('['));
    let first = true;
    for (const c of chunks) {
      const fd = openSync(c, 'r');
      // every line is one entry: a separator goes before an entry's first bytes, the newline ends it
      let inEntry = false;
      try {
        for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
          let from = 0;
          for (let i = 0; i <= n; i++) {
            if (i < n && buf[i] !== 0x0a) continue;
            if (i > from) {
              if (!inEntry) put(Buffer.from(first ? '\n' : ',\n'));
              first = false;
              inEntry = true;
              put(buf.subarray(from, i));
            }
            if (i < n && inEntry) {
              rows++;
              inEntry = false;
            }
            from = i + 1;
          }
        }
        if (inEntry) rows++;
      } finally {
        closeSync(fd);
      }
    }
    put(Buffer.from(first ? ']\n' : '\n]\n'));
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
  renameSync(tmp, file);
  return { path: 'llava.json', rows, bytes, sha256: hash.digest('hex') };
}
