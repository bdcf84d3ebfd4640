/**
 * WebDataset tars built here (tar-stream) with repeated keys, two images for one key and binary members; and
 * input folders made of symbolic links (to files, to folders, broken, looping), through the real CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { pack } from 'tar-stream';
import { cli, duck, tmpDir } from './helpers.js';
import type { Manifest } from '../src/write/manifest.js';

const dir = tmpDir();
const manifest = (d: string): Manifest => JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8')) as Manifest;
type Reject = { source: string; file: string; location: string; reason: string; detail: string };
const rejects = (d: string): Reject[] => {
  try {
    return readdirSync(path.join(d, 'rejects')).flatMap((f) =>
      readFileSync(path.join(d, 'rejects', f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Reject),
    );
  } catch {
    return [];
  }
};

const image = (format: 'jpeg' | 'png', r: number, g: number, b: number): Promise<Buffer> =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g, b } } })[format]().toBuffer();

/** Writes a tar holding these members, in this order (a name may repeat). */
async function writeTar(file: string, members: [string, Buffer | string][]): Promise<void> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const [name, body] of members) p.entry({ name }, typeof body === 'string' ? Buffer.from(body) : body);
  p.finalize();
  await done;
  writeFileSync(file, Buffer.concat(chunks));
}

async function rows(out: string): Promise<{ id: string; text: string; path: string; metadata: string | null }[]> {
  return (await duck(`SELECT id, text, image.path AS path, metadata FROM read_parquet('${out}/data/*.parquet') ORDER BY path, text`)) as { id: string; text: string; path: string; metadata: string | null }[];
}

function ingest(out: string, ...args: string[]): ReturnType<typeof cli> {
  const r = cli(['ingest', '--kind', 'caption', '--out', out, '--quiet', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

test('webdataset: a key seen before in the tar, adjacent or not, is rejected as duplicate_key and the first kept; ids stay unique', async () => {
  const d = path.join(dir, 'dup');
  mkdirSync(d);
  await writeTar(path.join(d, 's.tar'), [
    ['000000.jpg', await image('jpeg', 255, 0, 0)],
    ['000000.txt', 'red'],
    ['000000.json', '{"url": "http://x/0", "similarity": 0.3}'],
    ['000001.jpg', await image('jpeg', 0, 255, 0)],
    ['000001.txt', 'green'],
    // 000000 again, after another key
    ['000000.jpg', await image('jpeg', 0, 0, 255)],
    ['000000.txt', 'blue, the same key again'],
    // 000003 twice in a row: a member repeating an extension starts a second sample with the same key
    ['000003.jpg', await image('jpeg', 3, 3, 3)],
    ['000003.txt', 'grey'],
    ['000003.jpg', await image('jpeg', 4, 4, 4)],
    ['000003.txt', 'grey again'],
  ]);
  const out = path.join(dir, 'dup-out');
  ingest(out, '--input', path.join(d, 's.tar'));
  const m = manifest(out);
  assert.deepEqual(m.sources.s, { read: 5, kept: 3, rejected: 2, rejected_by_reason: { duplicate_key: 2 } }, JSON.stringify(m.sources));
  const rj = rejects(out).sort((a, b) => a.location.localeCompare(b.location));
  assert.deepEqual(
    rj.map((x) => [x.file, x.location, x.reason]),
    [
      ['s.tar', 'key 000000', 'duplicate_key'],
      ['s.tar', 'key 000003', 'duplicate_key'],
    ],
  );
  assert.match(rj[0]!.detail, /000000\.jpg/);
  const rs = await rows(out);
  assert.deepEqual(rs.map((r) => r.text), ['red', 'green', 'grey']);
  assert.equal(new Set(rs.map((r) => r.id)).size, rs.length, 'ids are unique');
  assert.deepEqual(JSON.parse(rs[0]!.metadata!), { url: 'http://x/0', similarity: 0.3 });
});

test('webdataset: two images for one key are ambiguous_image; a multi-dot member (KEY.seg.png) is a field of its own', async () => {
  const d = path.join(dir, 'amb');
  mkdirSync(d);
  const seg = await image('png', 9, 9, 9);
  await writeTar(path.join(d, 't.tar'), [
    ['000002.jpg', await image('jpeg', 1, 1, 1)],
    ['000002.png', await image('png', 2, 2, 2)],
    ['000002.txt', 'two images'],
    ['000004.jpg', await image('jpeg', 4, 4, 4)],
    ['000004.seg.png', seg],
    ['000004.txt', 'an image and its segmentation mask'],
    ['sub/000005.jpeg', await image('jpeg', 5, 5, 5)],
    ['sub/000005.JPG', await image('jpeg', 6, 6, 6)],
    ['sub/000005.txt', 'jpeg and JPG'],
  ]);
  const out = path.join(dir, 'amb-out');
  ingest(out, '--input', path.join(d, 't.tar'));
  const m = manifest(out);
  assert.deepEqual(m.sources.t, { read: 3, kept: 1, rejected: 2, rejected_by_reason: { ambiguous_image: 2 } }, JSON.stringify(m.sources));
  const rj = rejects(out).sort((a, b) => a.location.localeCompare(b.location));
  assert.deepEqual(rj.map((x) => [x.file, x.location, x.reason]), [
    ['t.tar', 'key 000002', 'ambiguous_image'],
    ['t.tar', 'key sub/000005', 'ambiguous_image'],
  ]);
  assert.match(rj[0]!.detail, /000002\.jpg/);
  assert.match(rj[0]!.detail, /000002\.png/);
  assert.match(rj[1]!.detail, /sub\/000005\.jpeg/);
  assert.match(rj[1]!.detail, /sub\/000005\.JPG/);
  const rs = await rows(out);
  assert.deepEqual(rs.map((r) => [r.path, r.text, r.metadata]), [['000004.jpg', 'an image and its segmentation mask', null]]);

  // the mask is kept as bytes: it can be chosen as the image
  const out2 = path.join(dir, 'amb-out-seg');
  ingest(out2, '--input', path.join(d, 't.tar'), '--map', 'image=seg.png');
  const seg2 = (await duck(`SELECT image.bytes AS bytes, width FROM read_parquet('${out2}/data/*.parquet')`)) as { bytes: Uint8Array; width: number }[];
  assert.equal(seg2.length, 1);
  assert.deepEqual(Buffer.from(seg2[0]!.bytes), seg);
});

test('webdataset: only text members go into metadata; a binary member (KEY.npy) is left out, never decoded as text', async () => {
  const d = path.join(dir, 'bin');
  mkdirSync(d);
  await writeTar(path.join(d, 'b.tar'), [
    ['000003.jpg', await image('jpeg', 3, 3, 3)],
    ['000003.txt', 'with npy'],
    ['000003.npy', Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0xff, 0xfe, 0x00])],
    ['000003.cls', '7'],
    ['000003.en.txt', 'in English'],
    ['000003.json', '{"key": "000003", "status": "success"}'],
    ['000004.jpg', await image('jpeg', 4, 4, 4)],
    ['000004.txt', 'only a raw member besides'],
    ['000004.raw', Buffer.from([0xc3, 0x28, 0xa0, 0xa1])],
  ]);
  const out = path.join(dir, 'bin-out');
  ingest(out, '--input', path.join(d, 'b.tar'));
  const m = manifest(out);
  assert.deepEqual(m.sources.b, { read: 2, kept: 2, rejected: 0, rejected_by_reason: {} });
  const rs = await rows(out);
  assert.deepEqual(rs.map((r) => [r.text, r.metadata === null ? null : JSON.parse(r.metadata)]), [
    ['with npy', { cls: '7', 'en.txt': 'in English', key: '000003', status: 'success' }],
    ['only a raw member besides', null],
  ]);
  assert.ok(rs.every((r) => !r.metadata?.includes('\ufffd')));
});

test('a folder of symbolic links: links to files and folders are followed, broken links and loops skipped with a warning', async () => {
  const d = path.join(dir, 'links');
  mkdirSync(path.join(d, 'store', 'more'), { recursive: true });
  mkdirSync(path.join(d, 'in'));
  for (const n of ['a', 'b', 'c', 'd']) writeFileSync(path.join(d, n === 'd' ? 'store/more' : 'store', `${n}.jsonl`), `{"url": "http://x/${n}", "caption": "${n}"}\n`);
  symlinkSync('../store/a.jsonl', path.join(d, 'in', 'a.jsonl'));
  symlinkSync(path.join(d, 'store', 'b.jsonl'), path.join(d, 'in', 'b.jsonl'));
  writeFileSync(path.join(d, 'in', 'own.jsonl'), '{"url": "http://x/own", "caption": "own"}\n');
  symlinkSync('../store/more', path.join(d, 'in', 'more'));
  symlinkSync('../store/gone.jsonl', path.join(d, 'in', 'gone.jsonl'));
  symlinkSync('..', path.join(d, 'in', 'up'));
  symlinkSync('.', path.join(d, 'in', 'here'));
  const out = path.join(dir, 'links-out');
  const r = ingest(out, '--input', `src=${path.join(d, 'in')}`);
  const m = manifest(out);
  assert.deepEqual(m.sources.src, { read: 4, kept: 4, rejected: 0, rejected_by_reason: {} }, JSON.stringify(m.sources));
  const rs = await rows(out);
  assert.deepEqual(rs.map((x) => x.text).sort(), ['a', 'b', 'd', 'own']);
  assert.equal(new Set(rs.map((x) => x.id)).size, 4);
  assert.match(r.stderr, /gone\.jsonl: a broken symbolic link/);
  assert.match(r.stderr, /in\/up: .*\(a loop\)/);
  assert.match(r.stderr, /in\/here: .*\(a loop\)/);
});

test('a folder holding only symbolic links to tars reads them', async () => {
  const d = path.join(dir, 'tarlinks');
  mkdirSync(path.join(d, 'real'), { recursive: true });
  mkdirSync(path.join(d, 'shards'));
  for (const n of ['00000', '00001']) {
    await writeTar(path.join(d, 'real', `${n}.tar`), [
      [`${n}0.jpg`, await image('jpeg', 1, 2, 3)],
      [`${n}0.txt`, `caption ${n}`],
    ]);
    symlinkSync(`../real/${n}.tar`, path.join(d, 'shards', `${n}.tar`));
  }
  const out = path.join(dir, 'tarlinks-out');
  ingest(out, '--input', path.join(d, 'shards'));
  const m = manifest(out);
  assert.deepEqual(m.sources.shards, { read: 2, kept: 2, rejected: 0, rejected_by_reason: {} }, JSON.stringify(m.sources));
  assert.deepEqual((await rows(out)).map((x) => x.text), ['caption 00000', 'caption 00001']);
});

test('an image folder with symbolic links to its images and captions', async () => {
  const d = path.join(dir, 'imglinks');
  mkdirSync(path.join(d, 'store'), { recursive: true });
  mkdirSync(path.join(d, 'imgs'));
  writeFileSync(path.join(d, 'store', 'a.jpg'), await image('jpeg', 10, 20, 30));
  writeFileSync(path.join(d, 'store', 'b.txt'), 'b, captioned through a link');
  symlinkSync('../store/a.jpg', path.join(d, 'imgs', 'a.jpg'));
  writeFileSync(path.join(d, 'imgs', 'a.txt'), 'a, an image through a link');
  writeFileSync(path.join(d, 'imgs', 'b.png'), await image('png', 1, 1, 1));
  symlinkSync('../store/b.txt', path.join(d, 'imgs', 'b.txt'));
  const out = path.join(dir, 'imglinks-out');
  ingest(out, '--input', path.join(d, 'imgs'));
  const m = manifest(out);
  assert.deepEqual(m.sources.imgs, { read: 2, kept: 2, rejected: 0, rejected_by_reason: {} }, JSON.stringify(m.sources));
  assert.deepEqual((await rows(out)).map((x) => [x.path, x.text]), [
    ['a.jpg', 'a, an image through a link'],
    ['b.png', 'b, captioned through a link'],
  ]);
});
