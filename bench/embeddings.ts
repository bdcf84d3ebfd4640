/**
 * The embedding layouts written by bench/peers/embedding_layouts.py (run it first), read by DuckDB (what
 * it makes of each column, and a full scan) and by hyparquet (mmcurate's own reader, 20,000 rows).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ROOT, median, table } from './util.js';
import { openParquet, readRowGroup } from '../src/io/parquet.js';
import { ShardWriter } from '../src/write/shard-writer.js';

const N = 100_000;
const DIM = 512;

/**
 * mmcurate's own reader on its own files: the list<FLOAT16> shard ShardWriter writes now against the same
 * vectors as float16 bytes in a BYTE_ARRAY column (the layout before, PLAIN and uncompressed as it was written), every
 * row group read as the stages read it, readRowGroup (list: pages read directly, src/io/embeddings.ts; bytes:
 * hyparquet's reader). A/B/A/B, 5 rounds. Write times are not comparable (ShardWriter writes 5 columns), so not shown.
 */
async function benchOurs(): Promise<string> {
  const dir = path.join(ROOT, '.bench', 'embeddings-ours');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const vectors: Uint8Array[] = [];
  let seed = 7;
  for (let i = 0; i < N; i++) {
    const b = new Uint8Array(DIM * 2);
    for (let k = 0; k < DIM; k++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      // float16 in [-0.125, 0.125): sign, exponent 10-11, random mantissa, as L2-normalised 512-d values are
      const h = ((seed >>> 31) << 15) | ((10 + ((seed >>> 20) & 1)) << 10) | (seed & 0x3ff);
      b[2 * k] = h & 0xff;
      b[2 * k + 1] = h >>> 8;
    }
    vectors.push(b);
  }
  const w = new ShardWriter({ outDir: dir, layout: 'text', rank: 0, columns: ['text_embedding'], kvMetadata: { embedding_dim: DIM } });
  for (let i = 0; i < N; i++) w.write({ id: String(i), kind: 'text', source: 'bench', text: 'x', metadata: null, text_embedding: vectors[i] });
  const listFile = path.join(dir, w.close()[0]!.path);
  const groups = 4;
  const bytesFile = path.join(dir, 'bytes.parquet');
  writeFileSync(bytesFile, new Uint8Array(parquetWriteBuffer({ codec: 'UNCOMPRESSED', rowGroupSize: Math.ceil(N / groups), columnData: [{ name: 'text_embedding', data: vectors, type: 'BYTE_ARRAY', encoding: 'PLAIN', statistics: false }], kvMetadata: [{ key: 'mmcurate', value: JSON.stringify({ embedding_dim: DIM }) }] })));
  const files = { list: listFile, bytes: bytesFile };
  const times: Record<string, { wall: number[]; cpu: number[] }> = { list: { wall: [], cpu: [] }, bytes: { wall: [], cpu: [] } };
  for (let round = 0; round < 5; round++) {
    for (const name of ['list', 'bytes'] as const) {
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      const pf = await openParquet(files[name]);
      let sum = 0;
      for (const g of pf.groups) sum += ((await readRowGroup(pf, g, ['text_embedding']))[0]!.text_embedding as Uint8Array)[0]!;
      if (Number.isNaN(sum)) throw new Error('unreachable');
      times[name]!.wall.push((performance.now() - t0) / 1000);
      const u = process.cpuUsage(cpu);
      times[name]!.cpu.push((u.user + u.system) / 1e6);
    }
  }
  const { statSync } = await import('node:fs');
  const rows = (['list', 'bytes'] as const).map((name) => [name === 'list' ? 'list<FLOAT16> (written now)' : 'float16 bytes, BYTE_ARRAY (before)', (statSync(files[name]).size / 1e6).toFixed(1), median(times[name]!.wall).toFixed(3), median(times[name]!.cpu).toFixed(3)]);
  rmSync(dir, { recursive: true, force: true });
  return `### mmcurate reading its own embeddings (${N.toLocaleString('en')} x ${DIM}-d, all rows, medians of 5 interleaved)\n\n${table(['layout', 'file MB', 'read wall s', 'read CPU s'], rows)}\n`;
}

export async function benchEmbeddings(): Promise<string> {
  return `${await benchOurs()}\n${await benchPeers()}`;
}

async function benchPeers(): Promise<string> {
  const dir = path.join(ROOT, '.bench', 'embeddings');
  if (!existsSync(path.join(dir, 'list_f16.parquet'))) return `### Embedding layouts\n\nskipped: run \`python bench/peers/embedding_layouts.py\` first (pyarrow writes the files)\n`;
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const out: (string | number)[][] = [];
  try {
    for (const name of ['blob_f16', 'list_f16', 'list_f32']) {
      const f = path.join(dir, `${name}.parquet`);
      const type = String((await c.runAndReadAll(`DESCRIBE SELECT image_embedding FROM read_parquet('${f}')`)).getRowObjectsJS()[0]!.column_type);
      const scan = name === 'blob_f16' ? `SELECT sum(octet_length(image_embedding)) FROM read_parquet('${f}')` : `SELECT sum(list_sum(image_embedding)) FROM read_parquet('${f}')`;
      let cpu = process.cpuUsage();
      let t = performance.now();
      await c.runAndReadAll(scan);
      const duck = [(performance.now() - t) / 1000, (() => { const u = process.cpuUsage(cpu); return (u.user + u.system) / 1e6; })()];
      cpu = process.cpuUsage();
      t = performance.now();
      await parquetReadObjects({ file: await asyncBufferFromFile(f), compressors, utf8: false, columns: ['image_embedding'], rowEnd: 20_000 });
      const u = process.cpuUsage(cpu);
      out.push([name, type, duck[0]!, duck[1]!, (performance.now() - t) / 1000, (u.user + u.system) / 1e6]);
    }
  } finally {
    c.closeSync();
  }
  return `### Embedding layouts (100,000 x 512-d, zstd): DuckDB and hyparquet\n\n${table(['layout', 'DuckDB type', 'DuckDB scan wall s', 'CPU s', 'hyparquet 20K rows wall s', 'CPU s'], out)}\n`;
}
