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

test('strings are written as UTF-8 exactly as TextEncoder encodes them, ASCII and not, with nulls and lone surrogates', async () => {
  const texts = ['plain ascii', 'café au lait', '猫が座っている', 'emoji 🐱 cat', '', 'lone \ud800 surrogate', 'end \udc00', 'x'.repeat(3000)];
  for (const set of [texts, texts.filter((t) => !/[^\x00-\x7f]/.test(t))]) {
    const dir = tmpDir();
    const w = new ShardWriter({ outDir: dir, layout: 'caption', rank: 0 });
    // enough rows that the writer takes its bulk (plain) path for distinct strings
    for (let i = 0; i < 600; i++) {
      const r = row(i, 0);
      r.image = { bytes: null, path: `https://example.com/${set[i % set.length]}/${i}` };
      r.text = `${set[i % set.length]} ${i}`;
      r.url = i % 3 === 0 ? null : (r.image as { path: string }).path;
      w.write(r);
    }
    const [s] = w.close();
    const got = await duck(`SELECT text, url, image.path AS p FROM read_parquet('${path.join(dir, s!.path)}') ORDER BY id`);
    const dec = new TextDecoder();
    const enc = new TextEncoder();
    got.forEach((g, i) => {
      const t = `${set[i % set.length]} ${i}`;
      assert.equal(g.text, dec.decode(enc.encode(t)), `row ${i}`);
      const p = `https://example.com/${set[i % set.length]}/${i}`;
      assert.equal(g.p, dec.decode(enc.encode(p)));
      assert.equal(g.url, i % 3 === 0 ? null : dec.decode(enc.encode(p)));
    });
  }
});

test('image-bearing columns are OPTIONAL, so `datasets` applies the stored Image feature to them', async () => {
  // datasets.Features.from_arrow_schema keeps a stored feature only when its Arrow field, which is nullable,
  // equals the file's: a REQUIRED `images` list made datasets 5 read lists of structs instead of images
  const { layoutColumns } = await import('../src/write/parquet-schema.js');
  for (const [layout, col] of [['caption', 'image'], ['interleaved', 'images'], ['mixture', 'images']] as const) {
    const c = layoutColumns(layout).find((x) => x.name === col)!;
    assert.equal(c.elements[0]!.repetition_type, 'OPTIONAL', `${layout}.${col}`);
    assert.match(JSON.stringify(c.feature), /"_type":"Image"/);
  }
  assert.equal(layoutColumns('interleaved').find((x) => x.name === 'texts')!.elements[0]!.repetition_type, 'REQUIRED');
});
