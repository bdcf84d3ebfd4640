import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { DEMO, duck, readHyparquet, readManifestOf, runMain, tmpDir } from './helpers.js';
import { ShardWriter } from '../src/write/shard-writer.js';
import { COMPRESSIONS } from '../src/write/compression.js';

const dir = tmpDir();

/** The codec of every column chunk of a Parquet file. */
async function codecs(file: string): Promise<Set<string>> {
  const meta = await parquetMetadataAsync(await asyncBufferFromFile(file));
  return new Set(meta.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data!.codec)));
}

test('every codec writes shards that DuckDB and hyparquet read back identically', async () => {
  const rows = Array.from({ length: 300 }, (_, i) => ({
    id: i.toString(16).padStart(32, '0'), kind: 'caption', source: 'laion', image: { bytes: null, path: `https://x.org/${i}.jpg` },
    text: `a photo of item ${i} on a table`, url: `https://x.org/${i}.jpg`, image_format: null, width: 100 + i, height: 50, metadata: null, clip_score: i / 300,
  }));
  for (const c of COMPRESSIONS) {
    const out = path.join(dir, c);
    const w = new ShardWriter({ outDir: out, layout: 'caption', rank: 0, columns: ['clip_score'], compression: c, maxRowGroupRows: 128 });
    for (const r of rows) w.write(r);
    const file = path.join(out, w.close()[0]!.path);
    assert.deepEqual([...(await codecs(file))], [c.toUpperCase()], c);
    const viaDuck = await duck(`SELECT id, text, width, clip_score FROM read_parquet('${file}') ORDER BY id`);
    assert.deepEqual(viaDuck, rows.map((r) => ({ id: r.id, text: r.text, width: r.width, clip_score: r.clip_score })), `${c}: DuckDB`);
    const viaHy = await readHyparquet(file);
    assert.deepEqual(viaHy.map((r) => (typeof r.text === "string" ? r.text : new TextDecoder().decode(r.text as Uint8Array))), rows.map((r) => r.text), `${c}: hyparquet`);
  }
});

test('--compression reaches the shards of a stage; zstd by default; an unknown codec is refused before anything runs', async () => {
  const input = `books=${DEMO}/books.txt`;
  let r = await runMain(['ingest', '--kind', 'text', '--input', input, '--out', path.join(dir, 'default'), '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const shard = (d: string) => path.join(d, readManifestOf(d).shards[0]!.path);
  assert.deepEqual([...(await codecs(shard(path.join(dir, 'default'))))], ['ZSTD']);
  r = await runMain(['ingest', '--kind', 'text', '--input', input, '--compression', 'snappy', '--out', path.join(dir, 'snappy'), '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual([...(await codecs(shard(path.join(dir, 'snappy'))))], ['SNAPPY']);
  r = await runMain(['ingest', '--kind', 'text', '--input', input, '--compression', 'lz4', '--out', path.join(dir, 'lz4'), '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /mmcurate ingest: unsupported --compression "lz4". Should be one of: zstd, snappy, gzip/);
  assert.deepEqual(readdirSync(dir).sort(), ['default', 'gzip', 'snappy', 'zstd'].sort());
});
