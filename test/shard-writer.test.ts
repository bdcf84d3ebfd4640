import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { ShardWriter, SHARD_DEFAULTS } from '../src/write/shard-writer.js';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
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

test('byte-array columns and the image struct survive every null pattern, page split and row group, read back by DuckDB and hyparquet', async () => {
  const { readHyparquet } = await import('./helpers.js');
  const dir = tmpDir();
  // 3 row groups; ~2.4 MB of image bytes and ~1.5 MB of text per group: several 1 MiB pages per chunk
  const w = new ShardWriter({ outDir: dir, layout: 'caption', rank: 0, maxRowGroupRows: 1000 });
  const n = 2500;
  const expect: { id: string; text: string; path: string | null; bytes: string | null; image: boolean; metadata: string | null }[] = [];
  for (let i = 0; i < n; i++) {
    const r = row(i, 0);
    const pattern = i % 5; // 0: both leaves, 1: bytes only, 2: path only, 3: image null, 4: both leaves null
    const bytes = pattern <= 1 ? new Uint8Array(6000).fill((i * 7) & 255) : null;
    const p = pattern === 0 || pattern === 2 ? `dir/é ${i}.jpg` : null;
    r.image = pattern === 3 ? null : { bytes, path: p };
    r.text = `caption ${i} ${'ü'.repeat(i % 1500)}`;
    r.metadata = i % 2 ? JSON.stringify({ i, note: 'x'.repeat(i % 97) }) : null;
    w.write(r);
    expect.push({ id: r.id as string, text: r.text as string, path: p, bytes: bytes ? Buffer.from(bytes).toString('hex') : null, image: pattern !== 3, metadata: r.metadata as string | null });
  }
  const [s] = w.close();
  const file = path.join(dir, s!.path);
  const pages = await duck(`SELECT path_in_schema AS c, count(DISTINCT row_group_id)::INTEGER AS g FROM parquet_metadata('${file}') GROUP BY 1`);
  assert.ok(pages.every((p) => p.g === 3), JSON.stringify(pages));
  const viaDuck = await duck(`SELECT id, text, image IS NOT NULL AS has, image.path AS p, hex(image.bytes) AS b, metadata FROM read_parquet('${file}')`);
  const viaHy = await readHyparquet(file);
  assert.equal(viaDuck.length, n);
  assert.equal(viaHy.length, n);
  for (let i = 0; i < n; i++) {
    const e = expect[i]!;
    const d = viaDuck[i]!;
    assert.deepEqual([d.id, d.text, d.has, d.p, d.b === null ? null : (d.b as string).toLowerCase(), d.metadata], [e.id, e.text, e.image, e.path, e.bytes, e.metadata], `DuckDB row ${i}`);
    const h = viaHy[i]!;
    const img = h.image as { bytes: Uint8Array | null; path: string | null } | null;
    assert.deepEqual([h.id, h.text, img !== null && img !== undefined, img?.path ?? null, img?.bytes ? Buffer.from(img.bytes).toString('hex') : null, h.metadata], [e.id, e.text, e.image, e.path, e.bytes, e.metadata], `hyparquet row ${i}`);
  }
});

test('a row group closes before the row that would take it past its byte budget; a larger row is a row group alone', async () => {
  const dir = tmpDir();
  const limit = 100_000;
  const w = new ShardWriter({ outDir: dir, layout: 'caption', rank: 0, maxRowGroupBytes: limit });
  const sizes = [30_000, 30_000, 30_000, 30_000, 250_000, 30_000, 60_000, 60_000];
  sizes.forEach((b, i) => w.write(row(i, b)));
  const [s] = w.close();
  const meta = await parquetMetadataAsync(await asyncBufferFromFile(path.join(dir, s!.path)));
  const groups = meta.row_groups.map((g) => [Number(g.num_rows), Number(g.total_byte_size)]);
  assert.deepEqual(groups.map((g) => g[0]), [3, 1, 1, 2, 1]);
  for (const [rows, bytes] of groups) if (rows! > 1) assert.ok(bytes! <= limit, `${rows} rows in ${bytes} bytes`);
});

test('every row group carries min/max statistics equal to its data, for numbers and strings (compared as UTF-8 bytes)', async () => {
  const dir = tmpDir();
  const w = new ShardWriter({ outDir: dir, layout: 'caption', rank: 0, maxRowGroupRows: 25 });
  const texts = ['a\uffef', 'a😀', 'café', 'Zebra', 'zebra', ''];
  const rows = Array.from({ length: 100 }, (_, i) => {
    // enough distinct strings for the bulk (plain) writer, repeated ones for the dictionary writer: both paths
    const r = row((i * 37) % 100, 0);
    r.image = { bytes: null, path: `https://example.com/${(i * 13) % 100}.jpg` };
    r.text = `${texts[i % texts.length]} ${(i * 7) % 100}`;
    r.source = ['laion', 'coco', 'cc3m'][i % 3];
    r.image_format = i % 4 === 0 ? null : ['jpeg', 'png', 'webp'][i % 3];
    r.width = 100 + ((i * 53) % 97);
    r.height = i % 5 === 0 ? null : 50 + ((i * 29) % 89);
    return r;
  });
  for (const r of rows) w.write(r);
  const [s] = w.close();
  const meta = await parquetMetadataAsync(await asyncBufferFromFile(path.join(dir, s!.path)));
  assert.equal(meta.row_groups.length, 4);
  const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const get: Record<string, (r: Record<string, unknown>) => unknown> = {
    id: (r) => r.id, source: (r) => r.source, text: (r) => r.text, image_format: (r) => r.image_format,
    width: (r) => r.width, height: (r) => r.height, 'image.path': (r) => (r.image as { path: string }).path,
  };
  meta.row_groups.forEach((g, k) => {
    const group = rows.slice(k * 25, (k + 1) * 25);
    for (const [name, pick] of Object.entries(get)) {
      const chunk = g.columns.find((c) => c.meta_data!.path_in_schema.join('.') === name)!;
      const st = chunk.meta_data!.statistics;
      assert.ok(st, `row group ${k}, ${name}: no statistics`);
      const values = group.map(pick).filter((v) => v !== null);
      const sorted = typeof values[0] === 'number' ? (values as number[]).sort((a, b) => a - b) : (values as string[]).sort(byBytes);
      assert.deepEqual([st.min_value, st.max_value, Number(st.null_count)], [sorted[0], sorted[sorted.length - 1], group.length - values.length], `row group ${k}, ${name}`);
    }
    // image bytes: no bounds (they filter nothing)
    assert.equal(g.columns.find((c) => c.meta_data!.path_in_schema.join('.') === 'image.bytes')!.meta_data!.statistics, undefined);
  });
  // DuckDB reads the same bounds and skips row groups with them
  const dk = await duck(`SELECT row_group_id::INTEGER AS g, stats_min_value AS lo, stats_max_value AS hi FROM parquet_metadata('${path.join(dir, s!.path)}') WHERE path_in_schema = 'width' ORDER BY g`);
  assert.deepEqual(dk.map((d) => [Number(d.lo), Number(d.hi)]), meta.row_groups.map((_, k) => {
    const ws = rows.slice(k * 25, (k + 1) * 25).map((r) => r.width as number);
    return [Math.min(...ws), Math.max(...ws)];
  }));
});
