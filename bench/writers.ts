/**
 * Why the shards are written with hyparquet-writer: the design card's parquetjs-lite, and apache-arrow +
 * parquet-wasm, timed on the same caption rows (URL references, the LAION metadata case) in one process.
 */
import { mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ShardWriter } from '../src/write/shard-writer.js';
import { ROOT, table } from './util.js';

const require = createRequire(import.meta.url);

interface Row {
  id: string; kind: string; source: string; image: { bytes: null; path: string }; text: string; url: string;
  image_format: null; width: number; height: number; metadata: string;
}

export function rows(n: number): Row[] {
  const out: Row[] = [];
  for (let i = 0; i < n; i++) {
    const url = `https://images.example.com/${i % 9973}/${i}.jpg`;
    out.push({ id: i.toString(16).padStart(32, '0'), kind: 'caption', source: 'laion', image: { bytes: null, path: url }, text: `a photo of item ${i} on a wooden table, with soft light`, url, image_format: null, width: 256 + (i % 512), height: 256 + (i % 300), metadata: JSON.stringify({ similarity: 0.2 + (i % 200) / 1000, key: String(i).padStart(9, '0') }) });
  }
  return out;
}

async function viaParquetjsLite(data: Row[], file: string): Promise<void> {
  const parquet = require('parquetjs-lite');
  const schema = new parquet.ParquetSchema({
    id: { type: 'UTF8' }, kind: { type: 'UTF8' }, source: { type: 'UTF8' },
    image: { optional: true, fields: { bytes: { type: 'BYTE_ARRAY', optional: true }, path: { type: 'UTF8', optional: true } } },
    text: { type: 'UTF8' }, url: { type: 'UTF8', optional: true }, image_format: { type: 'UTF8', optional: true },
    width: { type: 'INT32', optional: true }, height: { type: 'INT32', optional: true }, metadata: { type: 'UTF8', optional: true },
  });
  const w = await parquet.ParquetWriter.openFile(schema, file, { compression: 'GZIP' });
  w.setRowGroupSize(50_000);
  for (const r of data) await w.appendRow({ ...r, image: { path: r.image.path }, image_format: undefined });
  await w.close();
}

async function viaArrowParquetWasm(data: Row[], file: string): Promise<void> {
  const arrow = await import('apache-arrow');
  const pw = require('parquet-wasm/node');
  const { writeFileSync } = await import('node:fs');
  const img = new arrow.Struct([new arrow.Field('bytes', new arrow.Binary(), true), new arrow.Field('path', new arrow.Utf8(), true)]);
  const batches = [];
  for (let s = 0; s < data.length; s += 50_000) {
    const part = data.slice(s, s + 50_000);
    const col = <K extends keyof Row>(k: K) => part.map((r) => r[k]);
    batches.push(...new arrow.Table({
      id: arrow.vectorFromArray(col('id'), new arrow.Utf8()), kind: arrow.vectorFromArray(col('kind'), new arrow.Utf8()),
      source: arrow.vectorFromArray(col('source'), new arrow.Utf8()), image: arrow.vectorFromArray(col('image'), img),
      text: arrow.vectorFromArray(col('text'), new arrow.Utf8()), url: arrow.vectorFromArray(col('url'), new arrow.Utf8()),
      width: arrow.vectorFromArray(col('width'), new arrow.Int32()), height: arrow.vectorFromArray(col('height'), new arrow.Int32()),
      metadata: arrow.vectorFromArray(col('metadata'), new arrow.Utf8()),
    }).batches);
  }
  const table = pw.Table.fromIPCStream(arrow.tableToIPC(new arrow.Table(batches), 'stream'));
  const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.GZIP).setMaxRowGroupSize(50_000).build();
  writeFileSync(file, pw.writeParquet(table, props));
}

function viaShardWriter(data: Row[], dir: string): string {
  const w = new ShardWriter({ outDir: dir, layout: 'caption', rank: 0, compression: 'gzip' });
  for (const r of data) w.write(r as unknown as Record<string, unknown>);
  return path.join(dir, w.close()[0]!.path);
}

export async function benchWriters(n = 200_000): Promise<string> {
  const dir = path.join(ROOT, '.bench', 'writers');
  mkdirSync(dir, { recursive: true });
  const data = rows(n);
  const out: (string | number)[][] = [];
  const time = async (name: string, fn: () => Promise<string> | string) => {
    const t = process.hrtime.bigint();
    const file = await fn();
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    out.push([name, n / s, statSync(file).size / 1e6, s]);
  };
  await time('mmcurate ShardWriter (own byte-array pages, hyparquet-writer for the rest)', () => viaShardWriter(data, path.join(dir, 'hy')));
  await time('parquetjs-lite 0.8', async () => (await viaParquetjsLite(data, path.join(dir, 'pjl.parquet')), path.join(dir, 'pjl.parquet')));
  await time('apache-arrow 21 + parquet-wasm 0.8', async () => (await viaArrowParquetWasm(data, path.join(dir, 'arrow.parquet')), path.join(dir, 'arrow.parquet')));
  return `### Parquet writers on ${n.toLocaleString('en-US')} caption rows (GZIP)\n\n${table(['writer', 'rows/s', 'file MB', 'seconds'], out)}\n`;
}
