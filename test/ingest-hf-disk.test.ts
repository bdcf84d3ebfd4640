/**
 * Hugging Face `datasets` save_to_disk folders, as datasets 5.0.1 itself wrote them (test/fixtures/hf-disk/make.py):
 * the Arrow IPC stream shards are the data, state.json and dataset_info.json are never read as records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, truncateSync, statSync } from 'node:fs';
import path from 'node:path';
import { cli, readHyparquet, tmpDir, DEMO, ROOT, readManifestOf, readRejectsOf } from './helpers.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'hf-disk');
const dir = tmpDir();
const manifest = readManifestOf;
const rejects = readRejectsOf;
const rowsOf = async (out: string): Promise<Record<string, unknown>[]> =>
  (await Promise.all(manifest(out).shards.map((s) => readHyparquet(path.join(out, s.path))))).flat();

test('a save_to_disk Dataset: the .arrow shards are read, images {bytes, path} decoded, int64 exact, metadata files not records', async () => {
  const out = path.join(dir, 'captions-out');
  const r = cli(['ingest', '--kind', 'caption', '--input', path.join(FIX, 'captions'), '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  // three rows in two shards; the one without an image is rejected, nothing else is (no invalid_json from state.json)
  assert.deepEqual([m.sources.captions!.read, m.sources.captions!.kept, m.sources.captions!.rejected_by_reason], [3, 2, { image_missing: 1 }]);
  assert.deepEqual(rejects(out).map((x) => [x.file, x.location]), [['data-00001-of-00002.arrow', 'row 0']]);
  const rows = (await rowsOf(out)).sort((a, b) => String(a.text).localeCompare(String(b.text)));
  assert.deepEqual(rows.map((x) => x.text), ['a blue triangle', 'a red circle']);
  const red = rows[1]!;
  const image = red.image as { bytes: Uint8Array; path: string };
  assert.equal(image.path, '000_red_circle.jpg');
  assert.deepEqual(Buffer.from(image.bytes), readFileSync(path.join(DEMO, 'images', '000_red_circle.jpg')));
  assert.deepEqual([red.image_format, rows[0]!.image_format], ['jpeg', 'webp']);
  // LAION's hash at -2^63 and 2^53 + 1: every digit, as the Parquet reader keeps INT64
  assert.equal(red.metadata, '{"hash":-9223372036854775808,"meta":{"lang":"en","score":0.5}}');
  assert.equal(rows[0]!.metadata, '{"hash":9007199254740993,"meta":{"lang":"fr","score":0.25}}');
});

test('a save_to_disk DatasetDict: every split folder, --format arrow on one shard', async () => {
  const out = path.join(dir, 'dict-out');
  const r = cli(['ingest', '--kind', 'text', '--input', path.join(FIX, 'dict'), '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.deepEqual([m.rows, m.rejected], [3, 0]);
  assert.deepEqual((await rowsOf(out)).map((x) => [x.text, x.metadata]).sort(), [
    ['first document', '{"id":1}'],
    ['held-out document', '{"id":3}'],
    ['second document', '{"id":2}'],
  ]);
  const one = path.join(dir, 'one-out');
  const shard = path.join(FIX, 'dict', 'train', 'data-00000-of-00001.arrow');
  assert.equal(cli(['ingest', '--kind', 'text', '--format', 'arrow', '--input', `train=${shard}`, '--out', one]).code, 0);
  assert.equal(manifest(one).rows, 2);
});

test('a save_to_disk shard cut short: the shards before it are kept, the cut one is one unreadable_file reject', () => {
  const d = path.join(dir, 'cut');
  cpSync(path.join(FIX, 'captions'), d, { recursive: true });
  const cut = path.join(d, 'data-00000-of-00002.arrow');
  truncateSync(cut, Math.floor(statSync(cut).size / 2));
  const out = path.join(dir, 'cut-out');
  const r = cli(['ingest', '--kind', 'caption', '--input', d, '--out', out, '--allow-empty']);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.deepEqual(m.sources.cut!.rejected_by_reason, { unreadable_file: 1, image_missing: 1 });
  const bad = rejects(out).find((x) => x.reason === 'unreadable_file')!;
  assert.equal(bad.file, 'data-00000-of-00002.arrow');
  assert.match(bad.detail, /Arrow IPC stream/);
});

test('a save_to_disk folder whose state.json names a missing shard is refused before anything runs', () => {
  const d = path.join(dir, 'incomplete');
  cpSync(path.join(FIX, 'captions'), d, { recursive: true });
  rmSync(path.join(d, 'data-00001-of-00002.arrow'));
  const r = cli(['ingest', '--kind', 'caption', '--input', d, '--out', path.join(dir, 'incomplete-out')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /state\.json names data-00001-of-00002\.arrow/);
});
