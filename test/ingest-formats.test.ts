/** Every input format and every bad-input path, on real files (input Parquet written by DuckDB). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import sharp from 'sharp';
import { cli, duck, readHyparquet, tmpDir, DEMO, ROOT, readManifestOf, readRejectsOf } from './helpers.js';

const dir = tmpDir();
const manifest = readManifestOf;
const rejects = readRejectsOf;
const img = (name: string): string => path.join(DEMO, 'images', name);

test('CSV and TSV with paths relative to the file, and --map for odd column names', () => {
  const d = path.join(dir, 'csv');
  mkdirSync(d);
  copyFileSync(img('000_red_circle.jpg'), path.join(d, 'a.jpg'));
  copyFileSync(img('001_green_star.png'), path.join(d, 'b.png'));
  writeFileSync(path.join(d, 'pairs.csv'), 'file,alt_text,score\na.jpg,"a red circle, drawn",0.5\nb.png,a green triangle,0.4\nb.png\n');
  writeFileSync(path.join(d, 'pairs.tsv'), 'image\tcaption\na.jpg\ta red circle\n');
  const out = path.join(dir, 'csv-out');
  const r = cli(['ingest', '--kind', 'caption', '--input', path.join(d, 'pairs.csv'), path.join(d, 'pairs.tsv'), '--map', 'image=file,caption=alt_text', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.equal(m.sources.pairs!.kept, 2 + 0, JSON.stringify(m.sources));
  // the TSV is a second file of source "pairs": its caption column is not alt_text, so it is rejected by name
  assert.equal(m.sources.pairs!.read, 4);
  const rj = rejects(out);
  assert.ok(rj.some((x) => x.reason === 'invalid_csv_row' && x.location === 'line 4'));
  assert.ok(rj.some((x) => x.reason === 'missing_caption' && /alt_text/.test(x.detail)));
});

test('HF-style Parquet with an image struct {bytes, path} and a text column', async () => {
  const p = path.join(dir, 'hf.parquet');
  await duck(`COPY (SELECT {'bytes': content, 'path': parse_filename(filename)} AS image, 'a picture ' || parse_filename(filename) AS text FROM read_blob('${DEMO}/images/0*.jpg') ORDER BY filename) TO '${p}' (FORMAT parquet)`);
  const out = path.join(dir, 'hf-out');
  const r = cli(['ingest', '--kind', 'caption', '--input', p, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.equal(m.rejected, 0);
  assert.ok(m.rows >= 10);
  const rows = await readHyparquet(path.join(out, m.shards[0]!.path));
  const first = rows[0]!;
  const image = first.image as { bytes: Uint8Array; path: string };
  assert.equal(image.path, '000_red_circle.jpg');
  assert.deepEqual(Buffer.from(image.bytes), readFileSync(img('000_red_circle.jpg')));
  assert.equal(first.image_format, 'jpeg');
});

test('LAION-style metadata Parquet keeps URLs as references and the rest as metadata', async () => {
  const p = path.join(dir, 'laion.parquet');
  await duck(`COPY (SELECT 'https://example.com/' || i || '.jpg' AS URL, 'caption ' || i AS TEXT, 0.25 + i / 100 AS similarity, 300 + i AS WIDTH, 200 AS HEIGHT, 'UNLIKELY' AS NSFW, lpad(i::VARCHAR, 9, '0') AS key FROM range(50) t(i)) TO '${p}' (FORMAT parquet, ROW_GROUP_SIZE 16)`);
  const out = path.join(dir, 'laion-out');
  const r = cli(['ingest', '--kind', 'caption', '--input', p, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.equal(m.rows, 50);
  const rows = await duck(`SELECT image.bytes AS b, image.path AS p, url, text, width, height, metadata FROM read_parquet('${out}/data/*.parquet') ORDER BY text`);
  assert.equal(rows[0]!.b, null);
  assert.equal(rows[0]!.p, 'https://example.com/0.jpg');
  assert.equal(rows[0]!.url, 'https://example.com/0.jpg');
  assert.equal(rows[0]!.width, 300);
  assert.deepEqual(JSON.parse(rows[0]!.metadata as string), { similarity: 0.25, WIDTH: 300, HEIGHT: 200, NSFW: 'UNLIKELY', key: '000000000' });
});

test('a folder of images with same-named .txt captions (a file\'s final newline is not caption)', async () => {
  const d = path.join(dir, 'folder');
  mkdirSync(path.join(d, 'sub'), { recursive: true });
  copyFileSync(img('000_red_circle.jpg'), path.join(d, 'one.jpg'));
  writeFileSync(path.join(d, 'one.txt'), 'a red circle\n');
  copyFileSync(img('002_blue_triangle.webp'), path.join(d, 'sub', 'two.webp'));
  writeFileSync(path.join(d, 'sub', 'two.txt'), 'a blue star\nover two lines\r\n');
  copyFileSync(img('001_green_star.png'), path.join(d, 'three.png'));
  const out = path.join(dir, 'folder-out');
  const r = cli(['ingest', '--kind', 'caption', '--input', d, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.equal(m.rows, 2);
  assert.deepEqual(m.rejected_by_reason, { missing_caption: 1 });
  assert.deepEqual((await duck(`SELECT text FROM read_parquet('${out}/data/*.parquet') ORDER BY text`)).map((x) => x.text), ['a blue star\nover two lines', 'a red circle']);
});

test('a truncated Parquet file and a broken tar are reported and the run goes on', () => {
  const d = path.join(dir, 'broken');
  mkdirSync(d);
  const good = readFileSync(path.join(dir, 'laion.parquet'));
  writeFileSync(path.join(d, 'cut.parquet'), good.subarray(0, Math.floor(good.length / 2)));
  const tarBytes = readFileSync(path.join(DEMO, 'wds', '00000.tar'));
  writeFileSync(path.join(d, 'cut.tar'), tarBytes.subarray(0, 12000));
  const out = path.join(dir, 'broken-out');
  // source a keeps nothing: without --allow-empty that would fail the run (exit 1)
  const r = cli(['ingest', '--kind', 'caption', '--input', `a=${d}/cut.parquet`, `b=${d}/cut.tar`, `c=${DEMO}/captions.jsonl`, '--out', out, '--allow-empty']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: source "a": its only record was rejected, as unreadable_file; nothing of it is in /);
  assert.match(r.stderr, /cut.parquet/);
  const m = manifest(out);
  assert.equal(m.sources.a!.rejected_by_reason.unreadable_file, 1);
  assert.equal(m.sources.b!.rejected_by_reason.unreadable_file, 1);
  assert.ok(m.sources.b!.kept >= 1, 'samples before the break are kept');
  assert.ok(m.sources.c!.kept > 30);
  assert.ok(rejects(out).some((x) => x.file === 'cut.parquet' && x.reason === 'unreadable_file'));
});

test('--strict stops at the first bad record with exit code 1', () => {
  const r = cli(['ingest', '--kind', 'caption', '--input', `${DEMO}/captions.jsonl`, '--strict', '--out', path.join(dir, 'strict')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /captions.jsonl, line 37: invalid_json/);
});

test('decompression bombs are rejected by the pixel limit', async () => {
  const d = path.join(dir, 'bomb');
  mkdirSync(d);
  await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#ff0000' } }).png().toFile(path.join(d, 'big.png'));
  writeFileSync(path.join(d, 'x.jsonl'), JSON.stringify({ image: 'big.png', caption: 'a big red field' }) + '\n' + JSON.stringify({ image: 'big.png', caption: 'again' }) + '\n');
  const out = path.join(dir, 'bomb-out');
  const r = cli(['ingest', '--kind', 'caption', '--input', path.join(d, 'x.jsonl'), '--max-pixels', '1000000', '--out', out, '--allow-empty']);
  assert.equal(r.code, 0, r.stderr);
  const rj = rejects(out);
  assert.equal(rj.length, 2);
  assert.equal(rj[0]!.reason, 'image_too_large');
  assert.match(rj[0]!.detail, /4000x3000 = 12000000 pixels, over the limit of 1000000/);
});

test('OBELICS-style Parquet with list columns', async () => {
  const p = path.join(dir, 'obelics.parquet');
  await duck(`COPY (SELECT [NULL, 'text ' || i, NULL]::VARCHAR[] AS texts, ['https://example.com/a' || i || '.jpg', NULL, 'https://example.com/b.jpg']::VARCHAR[] AS images, '[{},{},{}]' AS metadata, '{"url": "u' || i || '"}' AS general_metadata FROM range(5) t(i)) TO '${p}' (FORMAT parquet)`);
  const out = path.join(dir, 'obelics-out');
  const r = cli(['ingest', '--kind', 'interleaved', '--input', p, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  // each document has a position with neither text nor image? no: [img, text, img] is valid
  assert.equal(m.rows, 5, JSON.stringify(m.rejected_by_reason));
  const rows = await duck(`SELECT texts, [x.path for x in images] AS p, general_metadata FROM read_parquet('${out}/data/*.parquet') ORDER BY general_metadata`);
  assert.deepEqual(rows[0]!.p, ['https://example.com/a0.jpg', null, 'https://example.com/b.jpg']);
  assert.equal(rows[0]!.general_metadata, '{"url": "u0"}');
});

test('text from Parquet, gzipped plain text split by paragraph, and --format override', async () => {
  const p = path.join(dir, 'corpus.parquet');
  await duck(`COPY (SELECT 'document number ' || i AS content FROM range(7) t(i)) TO '${p}' (FORMAT parquet)`);
  const g = path.join(dir, 'paras.txt.gz');
  writeFileSync(g, gzipSync('first paragraph\nstill first\n\nsecond\n\n\nthird\n'));
  const odd = path.join(dir, 'lines.data');
  writeFileSync(odd, '{"text": "from an odd extension"}\n');
  const out = path.join(dir, 'text-out');
  const r = cli(['ingest', '--kind', 'text', '--input', p, '--map', 'text=content', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(manifest(out).rows, 7);
  const out2 = path.join(dir, 'text-out2');
  assert.equal(cli(['ingest', '--kind', 'text', '--input', g, '--text-split', 'paragraph', '--out', out2]).code, 0);
  const rows = await duck(`SELECT text FROM read_parquet('${out2}/data/*.parquet')`);
  assert.deepEqual(rows.map((x) => x.text), ['first paragraph\nstill first', 'second', 'third']);
  const out3 = path.join(dir, 'text-out3');
  const r3 = cli(['ingest', '--kind', 'text', '--input', odd, '--format', 'jsonl', '--out', out3]);
  assert.equal(r3.code, 0, r3.stderr);
  assert.equal(manifest(out3).rows, 1);
});

test('small shard and row-group budgets roll shards deterministically', async () => {
  const out = path.join(dir, 'roll');
  const r = cli(['ingest', '--kind', 'caption', '--input', path.join(dir, 'laion.parquet'), '--shard-rows', '20', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.deepEqual(m.shards.map((s) => [s.path, s.rows]), [['data/part-00000-00000.parquet', 20], ['data/part-00000-00001.parquet', 20], ['data/part-00000-00002.parquet', 10]]);
  const n = await duck(`SELECT count(*)::INTEGER AS n FROM read_parquet('${out}/data/*.parquet')`);
  assert.equal(n[0]!.n, 50);
});

test('interleaved documents without list columns or with empty lists are rejected by reason', () => {
  const f = path.join(dir, 'docs.jsonl');
  writeFileSync(f, [JSON.stringify({ text: 'not interleaved' }), JSON.stringify({ texts: [], images: [] }), JSON.stringify({ texts: ['ok'], images: [null] })].join('\n') + '\n');
  const out = path.join(dir, 'docs-out');
  const r = cli(['ingest', '--kind', 'interleaved', '--input', f, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.equal(m.rows, 1);
  assert.deepEqual(m.rejected_by_reason, { missing_field: 1, empty_document: 1 });
  assert.match(rejects(out).find((x) => x.reason === 'missing_field')!.detail, /needs list columns texts and images; available: text/);
});

test('a UTF-8 byte-order mark opens JSONL, CSV, plain and gzipped text without costing the first record', async () => {
  const d = path.join(dir, 'bom');
  mkdirSync(d);
  const bom = '\ufeff';
  writeFileSync(path.join(d, 'c.jsonl'), `${bom}{"url":"https://x.org/a.jpg","caption":"a cat"}\r\n{"url":"https://x.org/b.jpg","caption":"a dog"}\r\n`);
  writeFileSync(path.join(d, 'c.csv'), `${bom}url,caption\r\nhttps://x.org/c.jpg,a bird\r\n`);
  writeFileSync(path.join(d, 't.jsonl.gz'), gzipSync(`${bom}{"text":"first document"}\n{"text":"second"}\n`));
  writeFileSync(path.join(d, 't.txt'), `${bom}plain first\nplain second\n`);
  const cap = path.join(dir, 'bom-cap');
  assert.equal(cli(['ingest', '--kind', 'caption', '--input', path.join(d, 'c.jsonl'), path.join(d, 'c.csv'), '--out', cap]).code, 0);
  assert.equal(manifest(cap).rejected, 0, JSON.stringify(rejects(cap)));
  assert.deepEqual((await duck(`SELECT text FROM read_parquet('${cap}/data/*.parquet') ORDER BY text`)).map((r) => r.text), ['a bird', 'a cat', 'a dog']);
  const txt = path.join(dir, 'bom-txt');
  assert.equal(cli(['ingest', '--kind', 'text', '--input', path.join(d, 't.jsonl.gz'), path.join(d, 't.txt'), '--out', txt]).code, 0);
  assert.equal(manifest(txt).rejected, 0, JSON.stringify(rejects(txt)));
  assert.deepEqual((await duck(`SELECT text FROM read_parquet('${txt}/data/*.parquet') ORDER BY text`)).map((r) => r.text), ['first document', 'plain first', 'plain second', 'second']);
});

test('Zstandard-compressed JSONL (two frames), CSV and text are read; a truncated .zst keeps its complete lines and is reported', async () => {
  // made by the zstd 1.5 command-line tool: captions.jsonl.zst is two frames (3,001 lines, then 10), the
  // last line of the first frame is broken JSON; truncated.jsonl.zst is its first 3,000 bytes
  const z = path.join(ROOT, 'test', 'fixtures', 'zst');
  const out = path.join(dir, 'zst-cap');
  const r = cli(['ingest', '--kind', 'caption', '--input', path.join(z, 'captions.jsonl.zst'), path.join(z, 'pairs.csv.zst'), path.join(z, 'truncated.jsonl.zst'), '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifest(out);
  assert.deepEqual([m.sources.captions!.read, m.sources.captions!.kept], [3011, 3010]);
  assert.deepEqual([m.sources.pairs!.read, m.sources.pairs!.kept], [1, 1]);
  // lines 1-1005 decode completely before the cut: kept, and the damage is one unreadable_file reject
  assert.deepEqual([m.sources.truncated!.kept, m.sources.truncated!.rejected_by_reason], [1005, { unreadable_file: 1 }]);
  const rj = rejects(out);
  assert.ok(rj.some((x) => x.file === 'captions.jsonl.zst' && x.location === 'line 3001' && x.reason === 'invalid_json'));
  assert.match(rj.find((x) => x.file === 'truncated.jsonl.zst')!.detail, /truncated/);
  const got = await duck(`SELECT text FROM read_parquet('${out}/data/*.parquet') WHERE text LIKE 'second frame%' OR text LIKE 'a quoted%' ORDER BY text`);
  assert.equal(got.length, 11);
  assert.equal(got[0]!.text, 'a quoted, caption');
  const txt = path.join(dir, 'zst-txt');
  assert.equal(cli(['ingest', '--kind', 'text', '--input', path.join(z, 'docs.txt.zst'), '--out', txt]).code, 0);
  assert.equal(manifest(txt).rows, 500);
  assert.equal((manifest(txt) as unknown as { inputs: { format: string }[] }).inputs[0]!.format, 'txt');
});

test('CSV/TSV damage stays local: a cut .csv.gz, an unclosed quote, a TSV caption starting with a quote, CR-only and mixed line ends, repeated header names', async () => {
  const d = path.join(dir, 'csv-damage');
  mkdirSync(d);
  const rows = Array.from({ length: 900 }, (_, i) => `https://x.org/${i}.jpg,caption ${i}`);
  const gz = gzipSync(`url,caption\n${rows.join('\n')}\n`);
  writeFileSync(path.join(d, 'cut.csv.gz'), gz.subarray(0, Math.floor(gz.length * 0.6)));
  writeFileSync(path.join(d, 'quote.csv'), `url,caption\n${rows.slice(0, 300).join('\n')}\nhttps://x.org/bad.jpg,"never closed\n${rows.slice(300, 302).join('\n')}\n`);
  writeFileSync(path.join(d, 'cc.tsv'), 'A cat\thttps://x.org/t1.jpg\n"quoted start\thttps://x.org/t2.jpg\nplain\thttps://x.org/t3.jpg\n');
  writeFileSync(path.join(d, 'mac.csv'), 'url,caption\rhttps://x.org/m1.jpg,one\rhttps://x.org/m2.jpg,two\r');
  writeFileSync(path.join(d, 'mixed.csv'), 'url,caption,tag,tag,__proto__\r\nhttps://x.org/x1.jpg,a,p,q,r\r\n\nhttps://x.org/x2.jpg,b,p,q,r\nhttps://x.org/x3.jpg,c,p,q,r\r\n');
  const out = path.join(dir, 'csv-damage-out');
  const r = cli(['ingest', '--kind', 'caption', '--input', path.join(d, 'cut.csv.gz'), path.join(d, 'quote.csv'), path.join(d, 'mac.csv'), path.join(d, 'mixed.csv'), '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const tsv = path.join(dir, 'csv-damage-tsv');
  assert.equal(cli(['ingest', '--kind', 'caption', '--input', path.join(d, 'cc.tsv'), '--csv-columns', 'caption,url', '--out', tsv]).code, 0);
  const m = manifest(out);
  const rj = rejects(out);
  // the cut gzip: every complete row before the damage kept, the damage one reject, the other inputs read
  const cut = m.sources.cut!;
  assert.ok(cut.kept > 300 && cut.kept < 900, JSON.stringify(cut));
  assert.deepEqual(cut.rejected_by_reason, { unreadable_file: 1 });
  const kept = await duck(`SELECT url, text, metadata FROM read_parquet('${out}/data/*.parquet') WHERE source = 'cut' ORDER BY url`);
  assert.ok(kept.every((k) => /^https:\/\/x\.org\/\d+\.jpg$/.test(k.url as string) && /^caption \d+$/.test(k.text as string)), 'no row cut short is kept');
  // the unclosed quote: the 300 rows before it kept, the rest of the file one reject that names its line
  assert.deepEqual([m.sources.quote!.kept, m.sources.quote!.rejected], [300, 1]);
  assert.ok(rj.some((x) => x.file === 'quote.csv' && x.location === 'line 302' && x.reason === 'invalid_csv_row' && /Quote Not Closed/.test(x.detail)), JSON.stringify(rj));
  // CR-only and mixed line ends: right values, one line number (and id) per record
  const mac = await duck(`SELECT id, url, text FROM read_parquet('${out}/data/*.parquet') WHERE source IN ('mac', 'mixed') ORDER BY url`);
  assert.deepEqual(mac.map((x) => [x.url, x.text]), [['https://x.org/m1.jpg', 'one'], ['https://x.org/m2.jpg', 'two'], ['https://x.org/x1.jpg', 'a'], ['https://x.org/x2.jpg', 'b'], ['https://x.org/x3.jpg', 'c']]);
  assert.equal(new Set(mac.map((x) => x.id)).size, 5);
  const meta = await duck(`SELECT metadata FROM read_parquet('${out}/data/*.parquet') WHERE url = 'https://x.org/x2.jpg'`);
  assert.deepEqual(Object.entries(JSON.parse(meta[0]!.metadata as string) as object), [['tag', 'p'], ['tag.1', 'q'], ['__proto__', 'r']]);
  // TSV has no quoting: a caption that starts with a quote is text
  assert.deepEqual((await duck(`SELECT text FROM read_parquet('${tsv}/data/*.parquet') ORDER BY url`)).map((x) => x.text), ['A cat', '"quoted start', 'plain']);
});

test('metadata keeps every input column as it was: INT64 beyond 2^53 exactly, a column called json as a column; interleaved extras join general_metadata', async () => {
  const p = path.join(dir, 'meta-exact.parquet');
  await duck(`COPY (SELECT 'https://x.org/' || i || '.jpg' AS url, 'caption ' || i AS caption, -8978565440016739337 + i AS hash, {'lang': 'fr', 'score': 0.9} AS json, 'en' AS lang FROM range(3) t(i)) TO '${p}' (FORMAT parquet)`);
  const out = path.join(dir, 'meta-exact-out');
  assert.equal(cli(['ingest', '--kind', 'caption', '--input', p, '--out', out]).code, 0);
  const rows = await duck(`SELECT metadata FROM read_parquet('${out}/data/*.parquet') ORDER BY url`);
  assert.deepEqual(rows.map((r) => r.metadata), [0, 1, 2].map((i) => `{"hash":${-8978565440016739337n + BigInt(i)},"json":{"lang":"fr","score":0.9},"lang":"en"}`));
  const il = path.join(dir, 'obelics-extra.jsonl');
  writeFileSync(il, [
    { texts: ['a text', null], images: [null, 'https://x.org/i.jpg'], metadata: '[]', general_metadata: '{"url": "https://doc.org/1"}', doc_id: 42, lang: 'en' },
    { texts: ['another'], images: [null], metadata: null, general_metadata: null },
    { texts: ['third'], images: [null], doc_id: 7 },
  ].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const io = path.join(dir, 'obelics-extra-out');
  assert.equal(cli(['ingest', '--kind', 'interleaved', '--input', il, '--out', io]).code, 0);
  const docs = await duck(`SELECT texts[1] AS t, metadata, general_metadata AS g FROM read_parquet('${io}/data/*.parquet') ORDER BY t`);
  assert.deepEqual(docs.map((d) => [d.t, d.metadata, d.g]), [
    ['a text', '[]', '{"url": "https://doc.org/1","doc_id":42,"lang":"en"}'],
    ['another', null, null],
    ['third', null, '{"doc_id":7}'],
  ]);
});
