import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { incompleteImage } from '../src/image/complete.js';
import { probeImage } from '../src/image/header.js';
import { cli, duck, ROOT, tmpDir } from './helpers.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'preprocess');
const images = readdirSync(FIXTURES).filter((f) => /\.(jpg|png|webp|gif)$/.test(f));

test('every fixture image is complete, and every cut of it is not', async () => {
  const progressive = await sharp(path.join(FIXTURES, 'large_800x600.jpg')).jpeg({ progressive: true }).toBuffer();
  const cases: [string, Uint8Array][] = [...images.map((f): [string, Uint8Array] => [f, readFileSync(path.join(FIXTURES, f))]), ['progressive.jpg', progressive]];
  assert.ok(cases.length >= 13);
  for (const [name, bytes] of cases) {
    const h = probeImage(bytes);
    assert.ok(h, `${name}: probe`);
    assert.equal(incompleteImage(bytes, h.format), undefined, name);
    // trailing bytes after the end marker (some cameras and CDNs append data) do not make an image incomplete
    if (h.format === 'jpeg') assert.equal(incompleteImage(Buffer.concat([bytes, Buffer.from('trailer')]), 'jpeg'), undefined, `${name} + trailer`);
    for (const cut of [1, 2, 3, 17, Math.floor(bytes.length / 3), Math.floor(bytes.length / 2), bytes.length - 40]) {
      if (cut <= 0 || cut >= bytes.length) continue;
      const part = bytes.subarray(0, bytes.length - cut);
      const why = incompleteImage(part, h.format);
      assert.ok(why, `${name} without its last ${cut} bytes`);
    }
  }
});

test('--image-check header keeps what decode keeps and rejects truncated images, naming the record', async () => {
  const dir = tmpDir();
  const imgDir = path.join(dir, 'img');
  mkdirSync(imgDir);
  const rows: string[] = [];
  for (const f of images) {
    writeFileSync(path.join(imgDir, f), readFileSync(path.join(FIXTURES, f)));
    rows.push(JSON.stringify({ image: `img/${f}`, caption: `fixture ${f}` }));
  }
  const big = readFileSync(path.join(FIXTURES, 'large_800x600.jpg'));
  writeFileSync(path.join(imgDir, 'cut.jpg'), big.subarray(0, big.length >> 1));
  rows.push(JSON.stringify({ image: 'img/cut.jpg', caption: 'a download cut short' }));
  const png = readFileSync(path.join(FIXTURES, 'png_alpha.png'));
  writeFileSync(path.join(imgDir, 'cut.png'), png.subarray(0, png.length - 20));
  rows.push(JSON.stringify({ image: 'img/cut.png', caption: 'a png cut short' }));
  // cut exactly before its 12-byte IEND chunk: libvips decodes every pixel of it, yet the file is incomplete
  writeFileSync(path.join(imgDir, 'noiend.png'), png.subarray(0, png.length - 12));
  rows.push(JSON.stringify({ image: 'img/noiend.png', caption: 'a png without IEND' }));
  writeFileSync(path.join(dir, 'pairs.jsonl'), rows.join('\n') + '\n');

  const out: Record<string, string> = {};
  for (const mode of ['decode', 'header']) {
    out[mode] = path.join(dir, `out-${mode}`);
    const r = cli(['ingest', '--kind', 'caption', '--input', path.join(dir, 'pairs.jsonl'), '--image-check', mode, '--out', out[mode]!, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
  }
  const kept = async (o: string) => duck(`SELECT text, image_format, width, height FROM read_parquet('${o}/data/*.parquet') ORDER BY text`);
  assert.deepEqual(await kept(out.header!), await kept(out.decode!));
  assert.equal((await kept(out.header!)).length, images.length);
  for (const mode of ['decode', 'header']) {
    const rejects = readFileSync(path.join(out[mode]!, 'rejects', 'rejects-00000.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { location: string; reason: string; detail: string });
    assert.deepEqual(rejects.map((r) => [r.location, r.reason]).sort(), [1, 2, 3].map((k) => [`line ${images.length + k}`, 'image_decode_failed']), mode);
    assert.match(rejects.find((r) => r.location === `line ${images.length + 1}`)!.detail, /img\/cut\.jpg: JPEG has no end-of-image marker/);
    assert.match(rejects.find((r) => r.location === `line ${images.length + 3}`)!.detail, /img\/noiend\.png: .*IEND/);
  }
  const bad = cli(['ingest', '--kind', 'caption', '--input', path.join(dir, 'pairs.jsonl'), '--image-check', 'pixels', '--out', path.join(dir, 'x')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--image-check must be decode or header, got "pixels"/);
});

test('a JPEG the fast decoder refuses (arithmetic coding) is decoded by sharp and kept', async () => {
  const dir = tmpDir();
  writeFileSync(path.join(dir, 'arith.jpg'), readFileSync(path.join(ROOT, 'test', 'fixtures', 'jpeg', 'arithmetic.jpg')));
  writeFileSync(path.join(dir, 'plain.jpg'), readFileSync(path.join(FIXTURES, 'jpeg_rgb.jpg')));
  writeFileSync(path.join(dir, 'pairs.jsonl'), [JSON.stringify({ image: 'arith.jpg', caption: 'arithmetic' }), JSON.stringify({ image: 'plain.jpg', caption: 'plain' })].join('\n'));
  const out = path.join(dir, 'out');
  const r = cli(['ingest', '--kind', 'caption', '--input', path.join(dir, 'pairs.jsonl'), '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const rows = await duck(`SELECT text, image_format, width, height FROM read_parquet('${out}/data/*.parquet') ORDER BY text`);
  assert.deepEqual(rows, [
    { text: 'arithmetic', image_format: 'jpeg', width: 320, height: 240 },
    { text: 'plain', image_format: 'jpeg', width: 320, height: 240 },
  ]);
});
