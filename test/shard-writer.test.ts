import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { ShardWriter, SHARD_DEFAULTS } from '../src/write/shard-writer.js';
import { duck, tmpDir } from './helpers.js';

function row(i: number, bytes: number): Record<string, unknown> {
  return {
    id: i.toString(16).padStart(32, '0'), kind: 'caption', source: 's', image: { bytes: new Uint8Array(bytes).fill(i & 255), path: `${i}.jpg` },
    text: `caption ${i}`, url: null, image_format: 'jpeg', width: 10, height: 10, metadata: null,
  };
}

test('shards close at their byte budget, and an option passed as undefined keeps its default', async () => {
  const dir = tmpDir();
  const w = new ShardWriter({ outDir: dir, layout: 'caption', rank: 0, maxShardRows: undefined, maxShardBytes: 50_000, maxRowGroupBytes: undefined });
  for (let i = 0; i < 100; i++) w.write(row(i, 2_000));
  const shards = w.close();
  assert.ok(shards.length >= 4, `${shards.length} shards`);
  for (const s of shards) assert.ok(statSync(path.join(dir, s.path)).size <= 50_000 + 4_000, `${s.path} is ${s.bytes} bytes`);
  assert.equal(shards.reduce((a, s) => a + s.rows, 0), 100);
  const n = await duck(`SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS d FROM read_parquet('${dir}/data/*.parquet')`);
  assert.deepEqual(n[0], { n: 100, d: 100 });
  assert.equal(SHARD_DEFAULTS.maxRowGroupBytes, 32 * 1024 * 1024);
});

test('row groups close at their byte budget', async () => {
  const dir = tmpDir();
  const w = new ShardWriter({ outDir: dir, layout: 'caption', rank: 0, maxRowGroupBytes: 20_000 });
  for (let i = 0; i < 50; i++) w.write(row(i, 2_000));
  const [s] = w.close();
  const groups = await duck(`SELECT count(DISTINCT row_group_id)::INTEGER AS g FROM parquet_metadata('${path.join(dir, s!.path)}')`);
  assert.ok((groups[0]!.g as number) >= 5, `${groups[0]!.g} row groups`);
});
