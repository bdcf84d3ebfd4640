/**
 * Integers beyond 2^53 in JSON inputs keep every digit, as the Parquet reader keeps INT64: LAION's `hash` in a
 * pandas-written JSONL, in img2dataset's KEY.json sidecars, and in interleaved documents' extra columns.
 * Fixtures: test/fixtures/img2dataset/make.py.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cli, duck, readHyparquet, tmpDir, ROOT } from './helpers.js';
import type { Manifest } from '../src/write/manifest.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'img2dataset');
const dir = tmpDir();
const manifest = (d: string): Manifest => JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8')) as Manifest;
const byUrl = async (out: string): Promise<[string, string][]> =>
  (await duck(`SELECT url, metadata FROM read_parquet('${out}/data/*.parquet') ORDER BY url`)).map((r) => [r.url as string, r.metadata as string]);

test('a JSONL hash at -2^63, 2^53 + 1 and 2^63 - 1 gives the same metadata, byte for byte, as the same rows in Parquet', async () => {
  const fromJsonl = path.join(dir, 'jsonl-out');
  const fromParquet = path.join(dir, 'parquet-out');
  assert.equal(cli(['ingest', '--kind', 'caption', '--input', path.join(FIX, 'laion.jsonl'), '--out', fromJsonl]).code, 0);
  assert.equal(cli(['ingest', '--kind', 'caption', '--input', path.join(FIX, 'laion.parquet'), '--out', fromParquet]).code, 0);
  const jsonl = await byUrl(fromJsonl);
  assert.deepEqual(jsonl.map((r) => r[1]), [
    '{"hash":-9223372036854775808,"punsafe":0.25}',
    '{"hash":9007199254740993,"punsafe":0.5}',
    '{"hash":9223372036854775807,"punsafe":0.125}',
  ]);
  assert.deepEqual(jsonl, await byUrl(fromParquet));
});

test("img2dataset's KEY.json sidecar keeps the hash the sibling .parquet holds", async () => {
  const out = path.join(dir, 'wds-out');
  const r = cli(['ingest', '--kind', 'caption', '--input', path.join(FIX, 'shard'), '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(manifest(out).rows, 2);
  const sibling = await readHyparquet(path.join(FIX, 'shard', '00000.parquet'));
  for (const [url, metadata] of await byUrl(out)) {
    const hash = sibling.find((x) => x.url === url)!.hash as bigint;
    assert.equal(typeof hash, 'bigint');
    assert.ok(metadata.includes(`"hash":${hash},`), `${url}: ${metadata} should hold "hash":${hash}`);
  }
});

test('interleaved JSONL: a big document id and a big integer in metadata keep their digits', async () => {
  const file = path.join(dir, 'docs.jsonl');
  writeFileSync(file, [
    '{"texts": ["a text", null], "images": [null, "https://x.org/i.jpg"], "metadata": [{"id": 12345678901234567890}], "general_metadata": "{\\"url\\": \\"u\\"}", "doc_id": 9007199254740993}',
    '{"texts": ["plain"], "images": [null], "doc_id": 7}',
    '{"texts": ["a smaller one"], "images": [null], "doc_id": -9007199254740993}',
  ].join('\n') + '\n');
  const out = path.join(dir, 'docs-out');
  assert.equal(cli(['ingest', '--kind', 'interleaved', '--input', file, '--out', out]).code, 0);
  const docs = await duck(`SELECT texts[1] AS t, metadata, general_metadata AS g FROM read_parquet('${out}/data/*.parquet') ORDER BY t`);
  assert.deepEqual(docs.map((d) => [d.t, d.metadata, d.g]), [
    ['a smaller one', null, '{"doc_id":-9007199254740993}'],
    ['a text', '[{"id":12345678901234567890}]', '{"url": "u","doc_id":9007199254740993}'],
    ['plain', null, '{"doc_id":7}'],
  ]);
});

test('parseJsonExact: only integers beyond 2^53 become bigints; the rest is what JSON.parse gives', async () => {
  const { parseJsonExact } = await import('../src/ingest/json.js');
  const text = '{"__proto__": 1, "a": 1, "a": 9007199254740993, "f": 1e300, "g": 0.12345678901234567, "s": "12345678901234567890", "n": [-9223372036854775808, 9007199254740991]}';
  const { value, big } = parseJsonExact(text);
  assert.equal(big, true);
  const v = value as Record<string, unknown>;
  assert.deepEqual(Object.keys(v), ['__proto__', 'a', 'f', 'g', 's', 'n']);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual([v.a, v.f, v.g, v.s, v.n], [9007199254740993n, 1e300, 0.12345678901234567, '12345678901234567890', [-9223372036854775808n, 9007199254740991]]);
  assert.deepEqual(parseJsonExact('{"f": 1e300, "x": 9007199254740991}'), { value: { f: 1e300, x: 9007199254740991 }, big: false });
  assert.throws(() => parseJsonExact('{"x": 12345678901234567890,}'), (err: Error) => err.message === (() => { try { JSON.parse('{"x": 12345678901234567890,}'); } catch (e) { return (e as Error).message; } })());
});
