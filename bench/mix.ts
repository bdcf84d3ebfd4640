/**
 * Mix benchmarks: (1) the index path at 10M rows without payload (plan, seeded selection, per-kind
 * shuffle, the kind interleave, the writer's position index), rows/s and peak RSS against the 2 GiB
 * target; (2) the real `mmcurate mix` command on ~20K rows carrying ~50 KB image bytes each, end to end
 * (verify inputs with sha256, read, bucket, order, write shards, manifest).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { recordId } from '../src/records.js';
import { ShardWriter } from '../src/write/shard-writer.js';
import { buildManifest, writeManifest } from '../src/write/manifest.js';
import type { Layout } from '../src/records.js';
import { GiB, MB, table, timeCli, timeNode } from './util.js';

function dataset(dir: string, layout: Layout, n: number, row: (i: number) => Record<string, unknown>): number {
  const w = new ShardWriter({ outDir: dir, layout, rank: 0 });
  for (let i = 0; i < n; i++) w.write(row(i));
  const shards = w.close();
  const source = path.basename(dir);
  const m = buildManifest({ stage: 'ingest', layout, command: ['bench'], results: [{ rank: 0, shards, stats: { [source]: { read: n, kept: n, rejected: 0, rejected_by_reason: {} } } }], columns: w.columns.map((c) => c.name) });
  writeManifest(dir, m);
  return shards.reduce((a, s) => a + s.bytes, 0);
}

export async function benchMix(): Promise<string> {
  const rows10m = Number(process.env.MIX_BENCH_ROWS ?? 10_000_000);
  const idx = timeNode(new URL('./mix-index.js', import.meta.url).href);
  const r = JSON.parse(idx.stdout.trim()) as { rows: number; seconds: Record<string, number> };

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmcurate-bench-mix-'));
  try {
    const img = 50_000;
    const nCap = Number(process.env.MIX_BENCH_IMAGES ?? 10_000);
    const nDoc = nCap;
    const nText = Math.ceil(nCap / 2);
    // Random bytes stand in for JPEGs: incompressible, like real image files.
    const pool = Array.from({ length: 64 }, () => new Uint8Array(randomBytes(img)));
    const bytesIn =
      dataset(path.join(tmp, 'laion'), 'caption', nCap, (i) => ({
        id: recordId('laion', 'bench', String(i)), kind: 'caption', source: 'laion', image: { bytes: pool[i % 64]!, path: `${i}.jpg` },
        text: `a photo number ${i} of something worth describing`, url: null, image_format: 'jpeg', width: 256, height: 256, metadata: null,
      })) +
      dataset(path.join(tmp, 'obelics'), 'interleaved', nDoc, (i) => ({
        id: recordId('obelics', 'bench', String(i)), kind: 'interleaved', source: 'obelics', texts: [`document ${i} text before`, null, 'and after'],
        images: [null, { bytes: pool[(i * 7) % 64]!, path: `${i}.jpg` }, null], metadata: null, general_metadata: null,
      })) +
      dataset(path.join(tmp, 'web'), 'text', nText, (i) => ({ id: recordId('web', 'bench', String(i)), kind: 'text', source: 'web', text: `web page ${i} `.repeat(40), metadata: null }));
    // Many small rows through the real command: the same streaming path with almost no payload.
    const nSmall = Number(process.env.MIX_BENCH_E2E_ROWS ?? 1_000_000);
    const small = (name: string, kind: Layout, n: number): void =>
      void dataset(path.join(tmp, name), kind, n, (i) =>
        kind === 'caption'
          ? { id: recordId(name, 'bench', String(i)), kind, source: name, image: { bytes: null, path: `https://example.com/${i}.jpg` }, text: `caption ${i}`, url: null, image_format: null, width: null, height: null, metadata: null }
          : kind === 'interleaved'
            ? { id: recordId(name, 'bench', String(i)), kind, source: name, texts: [`doc ${i}`, null], images: [null, { bytes: null, path: `https://example.com/d${i}.jpg` }], metadata: null, general_metadata: null }
            : { id: recordId(name, 'bench', String(i)), kind, source: name, text: `text ${i}`, metadata: null },
      );
    small('s-cap', 'caption', Math.round(nSmall * 0.45));
    small('s-doc', 'interleaved', Math.round(nSmall * 0.45));
    small('s-txt', 'text', Math.round(nSmall * 0.1));
    const ts = timeCli(['mix', '--input', `caption=${path.join(tmp, 's-cap')}`, `interleaved=${path.join(tmp, 's-doc')}`, `text=${path.join(tmp, 's-txt')}`, '--ratio', 'caption=45,interleaved=45,text=10', '--out', path.join(tmp, 'mix-small'), '--quiet']);
    const smallRows = Number(/mix: ([\d,]+) rows/.exec(ts.stdout)?.[1]?.replace(/,/g, '') ?? NaN);
    rmSync(path.join(tmp, 'mix-small'), { recursive: true, force: true });

    const out = path.join(tmp, 'mix');
    const t = timeCli(['mix', '--input', `caption=${path.join(tmp, 'laion')}`, `interleaved=${path.join(tmp, 'obelics')}`, `text=${path.join(tmp, 'web')}`, '--ratio', 'caption=45,interleaved=45,text=10', '--out', out, '--quiet']);
    const mixed = Number(/mix: ([\d,]+) rows/.exec(t.stdout)?.[1]?.replace(/,/g, '') ?? NaN);
    return [
      '## mix',
      '',
      table(
        ['case', 'rows', 'seconds', 'rows/s', 'MB in', 'peak RSS (GiB)', 'target'],
        [
          [`index only: plan + select + shuffle + order + position index (${(rows10m / 1e6).toFixed(0)}M rows, no payload)`, r.rows, r.seconds.total!, r.rows / r.seconds.total!, 0, idx.peakRssBytes / GiB, 'streaming, < 2 GiB'],
          [`mmcurate mix end to end, small rows (URL-only images, short texts)`, smallRows, ts.seconds, smallRows / ts.seconds, 0, ts.peakRssBytes / GiB, 'streaming'],
          [`mmcurate mix end to end, ~${img / 1000} KB image bytes per image row`, mixed, t.seconds, mixed / t.seconds, bytesIn / MB, t.peakRssBytes / GiB, ''],
        ],
      ),
      '',
      `index phases (s): ${Object.entries(r.seconds).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`,
      '',
    ].join('\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write((await benchMix()) + '\n');
