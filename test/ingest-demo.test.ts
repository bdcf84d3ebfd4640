import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { cli, duck, readHyparquet, tmpDir, DEMO } from './helpers.js';
import type { Manifest } from '../src/write/manifest.js';

const out = tmpDir();
const cap = path.join(out, 'cap');
const first = cli(['ingest', '--kind', 'caption', '--input', `captions=${DEMO}/captions.jsonl`, `wds=${DEMO}/wds`, '--out', cap]);

test('caption ingest accounts for every record, per source and per reason', () => {
  assert.equal(first.code, 0, first.stderr);
  const m = JSON.parse(readFileSync(path.join(cap, 'manifest.json'), 'utf8')) as Manifest;
  assert.equal(m.read, m.rows + m.rejected);
  for (const s of Object.values(m.sources)) assert.equal(s.read, s.kept + s.rejected);
  assert.deepEqual(m.sources.captions!.rejected_by_reason, {
    invalid_json: 1, not_an_object: 1, missing_caption: 1, empty_text: 1, image_missing: 1, image_decode_failed: 2, image_empty: 1,
  });
  assert.deepEqual(m.sources.wds!.rejected_by_reason, { image_decode_failed: 1 });
  assert.equal(m.sources.wds!.kept, 8);
  assert.equal(m.kinds.caption, m.rows);
  const lines = readdirSync(path.join(cap, 'rejects')).flatMap((f) => readFileSync(path.join(cap, 'rejects', f), 'utf8').trim().split('\n'));
  assert.equal(lines.length, m.rejected);
  const rejects = lines.map((l) => JSON.parse(l) as { file: string; location: string; reason: string });
  assert.ok(rejects.some((r) => r.file === 'captions.jsonl' && r.location === 'line 37' && r.reason === 'invalid_json'));
  assert.ok(rejects.some((r) => r.file === '00000.tar' && r.location === 'key 000000008' && r.reason === 'image_decode_failed'));
  assert.match(first.stdout, /rows kept, \d+ rejected/);
});

test('shards match their manifest entry (rows, bytes, sha256) and leave no temp files', () => {
  const m = JSON.parse(readFileSync(path.join(cap, 'manifest.json'), 'utf8')) as Manifest;
  for (const s of m.shards) {
    const buf = readFileSync(path.join(cap, s.path));
    assert.equal(buf.length, s.bytes);
    assert.equal(createHash('sha256').update(buf).digest('hex'), s.sha256);
  }
  const all = readdirSync(cap, { recursive: true }) as string[];
  assert.ok(!all.some((f) => f.endsWith('.tmp')));
});

test('DuckDB and hyparquet read the same values back', async () => {
  const m = JSON.parse(readFileSync(path.join(cap, 'manifest.json'), 'utf8')) as Manifest;
  const viaHy = (await Promise.all(m.shards.map((s) => readHyparquet(path.join(cap, s.path))))).flat();
  const viaDuck = await duck(`SELECT id, kind, source, image.bytes AS bytes, image.path AS path, text, url, image_format, width, height, metadata FROM read_parquet('${cap}/data/*.parquet')`);
  assert.equal(viaHy.length, m.rows);
  assert.equal(viaDuck.length, m.rows);
  const byId = new Map(viaDuck.map((r) => [r.id as string, r]));
  for (const h of viaHy) {
    const d = byId.get(h.id as string)!;
    assert.ok(d, `DuckDB lacks ${h.id}`);
    const img = h.image as { bytes: Uint8Array | null; path: string | null };
    assert.equal(d.path, img.path);
    assert.equal(d.text, h.text);
    assert.equal(d.url, h.url);
    assert.equal(d.image_format, h.image_format);
    assert.equal(d.width, h.width);
    assert.equal(d.height, h.height);
    assert.equal(d.metadata, h.metadata);
    const db = d.bytes as { bytes?: Uint8Array } | Uint8Array | null;
    const dbytes = db === null ? null : db instanceof Uint8Array ? db : (db as { bytes: Uint8Array }).bytes;
    if (img.bytes === null) assert.equal(dbytes, null);
    else assert.deepEqual(Buffer.from(dbytes!), Buffer.from(img.bytes));
  }
  // the stored bytes are the original file
  const orig = readFileSync(path.join(DEMO, 'images', '000_red_circle.jpg'));
  const row = viaHy.find((r) => (r.image as { path: string }).path === 'images/000_red_circle.jpg')!;
  assert.deepEqual(Buffer.from((row.image as { bytes: Uint8Array }).bytes), orig);
  assert.equal(row.width, 64);
  assert.equal(row.image_format, 'jpeg');
  // a URL-only row stays a reference
  const remote = viaHy.find((r) => r.url === 'https://example.com/laion/000123.jpg')!;
  assert.equal((remote.image as { bytes: unknown }).bytes, null);
  assert.equal(remote.width, 640);
  assert.match(remote.metadata as string, /"similarity":0.31/);
});

test('HF datasets metadata declares the image column as an Image feature', async () => {
  const m = JSON.parse(readFileSync(path.join(cap, 'manifest.json'), 'utf8')) as Manifest;
  const kv = await duck(`SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata('${path.join(cap, m.shards[0]!.path)}')`);
  const hf = kv.find((r) => r.key === 'huggingface')!;
  const features = (JSON.parse(hf.value as string) as { info: { features: Record<string, { _type: string }> } }).info.features;
  assert.equal(features.image!._type, 'Image');
  assert.equal(features.text!._type, 'Value');
});

test('a re-run is deterministic and resumes instead of redoing finished tasks', () => {
  const before = readFileSync(path.join(cap, 'manifest.json'), 'utf8');
  const again = cli(['ingest', '--kind', 'caption', '--input', `captions=${DEMO}/captions.jsonl`, `wds=${DEMO}/wds`, '--out', cap]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /is complete \(3 task\(s\) done\); nothing to run/);
  const m1 = JSON.parse(before) as Manifest;
  const m2 = JSON.parse(readFileSync(path.join(cap, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(m2.shards, m1.shards);
  // a fresh folder gives byte-identical shards
  const other = path.join(out, 'cap2');
  assert.equal(cli(['ingest', '--kind', 'caption', '--input', `captions=${DEMO}/captions.jsonl`, `wds=${DEMO}/wds`, '--out', other]).code, 0);
  const m3 = JSON.parse(readFileSync(path.join(other, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(m3.shards.map((s) => s.sha256), m1.shards.map((s) => s.sha256));
});

test('a missing task marker reruns only that task', () => {
  const marker = path.join(out, 'cap', '_tasks', 'ingest', '00001.done.json');
  assert.ok(existsSync(marker));
  rmSync(marker);
  const r = cli(['ingest', '--kind', 'caption', '--input', `captions=${DEMO}/captions.jsonl`, `wds=${DEMO}/wds`, '--out', cap]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /resuming, 1 of 3 task\(s\) already done/);
  assert.ok(existsSync(marker));
});

test('interleaved documents keep the OBELICS layout', async () => {
  const dir = path.join(out, 'inter');
  const r = cli(['ingest', '--kind', 'interleaved', '--input', `${DEMO}/interleaved.jsonl`, '--out', dir]);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(m.rejected_by_reason, { mismatched_lists: 2, image_decode_failed: 1 });
  const rows = await duck(`SELECT texts, [i.path for i in images] AS paths, [octet_length(i.bytes) for i in images] AS sizes, general_metadata FROM read_parquet('${dir}/data/*.parquet')`);
  assert.equal(rows.length, 10);
  for (const row of rows) {
    const texts = row.texts as (string | null)[];
    const paths = row.paths as (string | null)[];
    assert.equal(texts.length, paths.length);
    texts.forEach((t, i) => assert.ok((t === null) !== (paths[i] === null), 'exactly one non-null per position'));
  }
  const withUrl = rows.find((r) => (r.paths as (string | null)[]).some((p) => p?.startsWith('https://')))!;
  const idx = (withUrl.paths as (string | null)[]).findIndex((p) => p?.startsWith('https://'));
  assert.equal((withUrl.sizes as (bigint | number | null)[])[idx], null, 'remote images stay URL references');
  assert.match(rows[0]!.general_metadata as string, /"url":"https:\/\/example.com\/doc\/0"/);
});

test('text corpora: gzipped JSONL and plain text', async () => {
  const dir = path.join(out, 'text');
  const r = cli(['ingest', '--kind', 'text', '--input', `${DEMO}/web.jsonl.gz`, `${DEMO}/books.txt`, '--out', dir]);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  assert.equal(m.sources.books!.kept, 12);
  assert.deepEqual(m.sources.web!.rejected_by_reason, { empty_text: 1, missing_text: 1 });
  const rows = await duck(`SELECT text, metadata FROM read_parquet('${dir}/data/*.parquet') WHERE source = 'books'`);
  assert.equal(rows.length, 12);
  assert.match(rows[0]!.text as string, /^Line 0: /);
});
