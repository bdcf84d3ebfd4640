// Embedding columns across layouts: list<FLOAT16> (written now) and float16 bytes in a BYTE_ARRAY column (shards
// written before the switch) read the same through src/io/embeddings.ts, and coreset and mix run on old shards.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import { duck, tmpDir } from './helpers.js';
import { captionRows, editManifest, runCommand } from './mix-helpers.js';
import { ShardWriter } from '../src/write/shard-writer.js';
import { buildManifest, writeManifest } from '../src/write/manifest.js';
import * as coreset from '../src/coreset/command.js';
import * as mix from '../src/mix/command.js';
import { openParquet, readRowGroup } from '../src/io/parquet.js';
import { blockBits, float16ListColumns, readEmbeddingGroup } from '../src/io/embeddings.js';
import { f32ToF16 } from '../src/util/float16.js';
import { parquetSchema, selectColumns } from '../src/write/parquet-schema.js';
import type { Manifest } from '../src/write/manifest.js';

const DIM = 16;
const ROWS = 240;
let current = '';
let legacy = '';

/** A unit vector per row, rows in 4 groups so k-means has clusters to find. */
function vector(i: number): Uint8Array {
  const v = new Float32Array(DIM);
  for (let k = 0; k < DIM; k++) v[k] = (k % 4 === i % 4 ? 1 : 0) + Math.sin(i * 7 + k) * 0.1;
  const n = Math.hypot(...v);
  const h = f32ToF16(v.map((x) => x / n));
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

/** Rewrites a dataset's shards with embeddings as float16 bytes in a BYTE_ARRAY column, mmcurate's layout before list<FLOAT16>. */
async function toLegacy(dir: string): Promise<void> {
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  for (const s of m.shards) {
    const file = path.join(dir, s.path);
    const pf = await openParquet(file);
    const rows = await readRowGroup(pf, { start: 0, end: pf.rows });
    const cols = selectColumns('caption', m.columns);
    const schema: SchemaElement[] = parquetSchema(cols).flatMap((e) => (e.name === 'list' || e.name === 'element' ? [] : e.name.endsWith('_embedding') ? [{ name: e.name, type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' } as SchemaElement] : [e]));
    const buf = new Uint8Array(parquetWriteBuffer({ schema, columnData: cols.map((c) => ({ name: c.name, data: rows.map((r) => r[c.name] ?? null) })), kvMetadata: Object.entries(pf.kv).map(([key, value]) => ({ key, value })) }));
    writeFileSync(file, buf);
    s.bytes = buf.byteLength;
    s.sha256 = createHash('sha256').update(buf).digest('hex');
  }
  editManifest(dir, (x) => void (x.shards = m.shards));
}

before(async () => {
  const rows = (await captionRows('cc', ROWS, { clip: true })).map((r, i) => ({ ...r, image_embedding: vector(i) }));
  current = tmpDir('mmcurate-emb-new-');
  legacy = tmpDir('mmcurate-emb-old-');
  for (const dir of [current, legacy]) {
    const w = new ShardWriter({ outDir: dir, layout: 'caption', rank: 0, columns: ['clip_score', 'image_embedding'], kvMetadata: { embedding_dim: DIM, model: 'test' }, maxRowGroupRows: 100 });
    for (const r of rows) w.write(r);
    const stats = { cc: { read: ROWS, kept: ROWS, rejected: 0, rejected_by_reason: {} } };
    writeManifest(dir, buildManifest({ stage: 'score', layout: 'caption', command: ['test'], results: [{ rank: 0, shards: w.close(), stats }], columns: w.columns.map((c) => c.name) }));
  }
  await toLegacy(legacy);
});

test('list<FLOAT16> on disk: DuckDB reads numbers, the fast reader and an old BYTE_ARRAY shard give the same float16 bits', async () => {
  const shard = (dir: string) => path.join(dir, (JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest).shards[0]!.path);
  const d = await duck(`SELECT typeof(image_embedding) t, image_embedding e FROM read_parquet('${shard(current)}')`);
  assert.equal(d[0]!.t, 'FLOAT[]');
  const pfNew = await openParquet(shard(current));
  const pfOld = await openParquet(shard(legacy));
  assert.deepEqual([...float16ListColumns(pfNew.metadata)], ['image_embedding']);
  assert.deepEqual([...float16ListColumns(pfOld.metadata)], []);
  const a = blockBits(await readEmbeddingGroup(pfNew.file, pfNew.metadata, 'image_embedding', 0));
  const b = blockBits(await readEmbeddingGroup(pfOld.file, pfOld.metadata, 'image_embedding', 0));
  assert.equal(pfNew.groups.length, 3); // row groups of 100: the reader finds the second and third chunks by offset too
  const c = blockBits(await readEmbeddingGroup(pfNew.file, pfNew.metadata, 'image_embedding', 2));
  assert.deepEqual(c.bits.subarray(0, DIM), new Uint16Array(vector(200).slice().buffer));
  assert.deepEqual(a.bits, b.bits.subarray(0, a.bits.length)); // the old file is one row group of 240
  const want = new Uint16Array(vector(5).slice().buffer);
  assert.deepEqual(a.bits.subarray(5 * DIM, 6 * DIM), want);
  // DuckDB's floats are the float16 values widened
  const f16 = new Float32Array(DIM);
  for (let k = 0; k < DIM; k++) f16[k] = Number((d[5]!.e as number[])[k]);
  const back = f32ToF16(f16);
  assert.deepEqual(back, want);
});

test('coreset and mix read shards written before the list layout, as they read the list layout', async () => {
  const kept: string[][] = [];
  for (const dir of [current, legacy]) {
    const out = path.join(tmpDir(), 'coreset');
    const r = await runCommand(coreset, ['--input', dir, '--recipe', 'semdedup', '--k', '4', '--seed', '3', '--out', out, '--quiet']);
    assert.equal(r.code, 0, r.error);
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    const ids: string[] = [];
    for (const s of m.shards) {
      const pf = await openParquet(path.join(out, s.path));
      const rows = await readRowGroup(pf, { start: 0, end: pf.rows }, ['id', 'image_embedding']);
      for (const row of rows) ids.push(`${row.id}:${Buffer.from(row.image_embedding as Uint8Array).toString('hex')}`);
    }
    kept.push(ids.sort());
    const mixed = path.join(tmpDir(), 'mix');
    const x = await runCommand(mix, ['--input', `caption=${dir}`, '--ratio', 'caption=1', '--out', mixed, '--quiet']);
    assert.equal(x.code, 0, x.error);
    assert.equal((JSON.parse(readFileSync(path.join(mixed, 'manifest.json'), 'utf8')) as Manifest).rows, ROWS);
  }
  assert.ok(kept[0]!.length > 0);
  assert.deepEqual(kept[0], kept[1]);
});
