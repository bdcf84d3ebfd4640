/**
 * The embedding layouts written by bench/peers/embedding_layouts.py (run it first), read by DuckDB (what
 * it makes of each column, and a full scan) and by hyparquet (mmcurate's own reader, 20,000 rows).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ROOT, table } from './util.js';

export async function benchEmbeddings(): Promise<string> {
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
